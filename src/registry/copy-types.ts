// The copy engine's vocabulary: where to copy from and to, how, and what it did.
import type { Manifest } from './fetch.js'
import type { Limiter } from './limit.js'
import type { Logger } from './logger.js'
import type { RegistryClient } from './transport.js'

export type UploadMode = 'monolithic' | 'chunked'

export interface Endpoint {
  client: RegistryClient
  repository: string
}

export interface CopyOptions {
  source: Endpoint
  destination: Endpoint
  /** The root manifest, already fetched and verified from the source. */
  root: Manifest
  /** The caller knows the destination holds the root already (a tag points at it). */
  rootPresent?: boolean
  /** Transfers (blob HEAD/copy, manifest HEAD/GET) at once. */
  concurrency: number
  /** A budget shared with other copies (a release set's); replaces `concurrency`. */
  limiter?: Limiter
  /** Where this copy logs (default: the destination client's logger, which a release set shares). */
  logger?: Logger
  dryRun?: boolean
  /** How blobs are uploaded; `monolithic` falls back to `chunked` on a registry that refuses it. */
  uploadMode?: UploadMode
  /** Chunk size for chunked uploads (raised to the registry's OCI-Chunk-Min-Length). */
  chunkBytes?: number
  /** Blob copy attempts without progress, each from a fresh GET and a fresh upload session. */
  blobAttempts?: number
  /** Uploads wait for this (e.g. a proof of push access); reads and existence checks do not. */
  writeGate?: Promise<unknown>
  /** Filled as the copy goes, so a caller can report what was done when it fails. */
  stats?: CopyStats
}

export type BlobOutcome = 'present' | 'mounted' | 'copied' | 'would-copy'

export interface CopyStats {
  blobs: Record<BlobOutcome, { count: number; bytes: number }>
  manifests: { pushed: number; present: number; wouldPush: number }
  /** Foreign layers (with `urls`): served elsewhere, never copied. */
  foreign: { count: number; bytes: number }
  /** Child manifests of media types we do not know, copied by digest without being walked. */
  unwalked: number
  /** Content size (config and layers) of each image manifest walked, by digest. */
  imageSizes: Record<string, number>
  /** Bytes that went through this process (equals copied bytes unless a retry re-sent some). */
  bytesTransferred: number
  retries: number
  durationMs: number
}

export function emptyCopyStats(): CopyStats {
  return {
    blobs: {
      present: { count: 0, bytes: 0 },
      mounted: { count: 0, bytes: 0 },
      copied: { count: 0, bytes: 0 },
      'would-copy': { count: 0, bytes: 0 }
    },
    manifests: { pushed: 0, present: 0, wouldPush: 0 },
    foreign: { count: 0, bytes: 0 },
    unwalked: 0,
    imageSizes: {},
    bytesTransferred: 0,
    retries: 0,
    durationMs: 0
  }
}

export const DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024
