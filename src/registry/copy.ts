// The copy engine: walks an image from its root manifest and makes every child manifest and blob
// present at the destination, by digest, without touching disk. Tags are the caller's: it writes
// them only after this resolves, so a tag never points at incomplete content.
import { verifyStream } from './digest.js'
import { describeError, isRetryable, RegistryError } from './errors.js'
import { getBlob, getManifest, headManifest, type Manifest } from './fetch.js'
import { formatBytes, formatDuration } from './format.js'
import { createLimiter, type Limiter } from './limit.js'
import {
  INDEX_TYPES,
  MANIFEST_ACCEPT,
  MANIFEST_TYPES,
  type Descriptor,
  type IndexDocument,
  type ManifestDocument
} from './media-types.js'
import { isDockerHub, isValidDigest } from './reference.js'
import { withRetry } from './retry.js'
import { discard, repositoryScope, type RegistryClient, type Response } from './transport.js'
import {
  blobExists,
  cancelUpload,
  finishUpload,
  mountBlob,
  patchChunk,
  putManifest,
  putMonolithic,
  startUpload,
  type BlobTarget,
  type UploadSession
} from './write.js'

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
  dryRun?: boolean
  /** How blobs are uploaded; `monolithic` falls back to `chunked` on a registry that refuses it. */
  uploadMode?: UploadMode
  /** Chunk size for chunked uploads (raised to the registry's OCI-Chunk-Min-Length). */
  chunkBytes?: number
  /** Blob copy attempts, each from a fresh GET and a fresh upload session. */
  blobAttempts?: number
  /** Uploads wait for this (e.g. a proof of push access); reads and existence checks do not. */
  writeGate?: Promise<unknown>
}

export type BlobOutcome = 'present' | 'mounted' | 'copied' | 'would-copy'

export interface CopyStats {
  blobs: Record<BlobOutcome, { count: number; bytes: number }>
  manifests: { pushed: number; present: number; wouldPush: number }
  /** Bytes that went through this process (equals copied bytes unless a retry re-sent some). */
  bytesTransferred: number
  retries: number
  durationMs: number
}

export const DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024
/** Blobs up to this size are checked and transferred speculatively (see transferBlob). */
const SPECULATE_BYTES = 1024 * 1024

interface OpenTransfer {
  session: UploadSession
  response: Response
}

const FOREIGN_LAYER = /\.foreign\.|nondistributable/

/**
 * Makes every blob and child manifest of `root` present at the destination (not the root itself:
 * the caller writes it under its tags). Shared blobs are transferred once; largest blobs start first.
 */
export async function copyContent(options: CopyOptions): Promise<CopyStats> {
  const engine = new CopyEngine(options)
  return engine.run()
}

class CopyEngine {
  private readonly limit: Limiter
  private readonly blobs = new Map<string, Promise<BlobOutcome>>()
  private readonly manifests = new Map<string, Promise<void>>()
  private uploadMode: UploadMode
  private readonly stats: CopyStats = {
    blobs: {
      present: { count: 0, bytes: 0 },
      mounted: { count: 0, bytes: 0 },
      copied: { count: 0, bytes: 0 },
      'would-copy': { count: 0, bytes: 0 }
    },
    manifests: { pushed: 0, present: 0, wouldPush: 0 },
    bytesTransferred: 0,
    retries: 0,
    durationMs: 0
  }
  private readonly sameRegistry: boolean

  constructor(private readonly options: CopyOptions) {
    this.limit = createLimiter(options.concurrency)
    this.uploadMode = options.uploadMode ?? 'monolithic'
    this.sameRegistry =
      options.source.client.registry === options.destination.client.registry &&
      options.source.repository !== options.destination.repository
  }

  private get log() {
    return this.options.destination.client.logger
  }

  async run(): Promise<CopyStats> {
    const started = Date.now()
    const { root } = this.options
    const document = parseDocument(root)
    // A registry holding a manifest vouches for everything below it. An index needs no check of its
    // own: each child is checked, and a present index means present children.
    const present =
      this.options.rootPresent ||
      (!('manifests' in document) &&
        (await this.limit(() =>
          headManifest(this.dest.client, this.dest.repository, root.digest, this.destScopes)
        )))
    if (present) {
      this.stats.manifests.present++
      this.log.info(`${root.digest} is already present at the destination: no content to copy`)
    } else {
      await this.ensureChildren(document)
    }
    this.stats.durationMs = Date.now() - started
    return this.stats
  }

  private get dest(): Endpoint {
    return this.options.destination
  }

  private get destScopes(): string[] {
    return [repositoryScope(this.dest.repository, 'pull,push')]
  }

  /** Everything a manifest refers to: blobs for an image, child manifests for an index. */
  private async ensureChildren(document: IndexDocument | ManifestDocument): Promise<void> {
    if ('manifests' in document) {
      await Promise.all(document.manifests.map((child) => this.ensureManifest(child)))
      return
    }
    const blobs = [document.config, ...document.layers].filter((d) => !FOREIGN_LAYER.test(d.mediaType ?? ''))
    // Largest first: the long transfers start while the small ones fill the gaps.
    blobs.sort((a, b) => b.size - a.size)
    await Promise.all(blobs.map((blob) => this.ensureBlob(blob)))
  }

  private ensureManifest(descriptor: Descriptor): Promise<void> {
    let pending = this.manifests.get(descriptor.digest)
    if (!pending) {
      pending = this.copyManifest(descriptor)
      this.manifests.set(descriptor.digest, pending)
    }
    return pending
  }

  private async copyManifest(descriptor: Descriptor): Promise<void> {
    const { source } = this.options
    const accept = descriptor.mediaType ? `${descriptor.mediaType}, ${MANIFEST_ACCEPT}` : MANIFEST_ACCEPT
    const fetchSource = (): Promise<Manifest | undefined> =>
      this.limit(() => getManifest(source.client, source.repository, descriptor.digest, undefined, accept))
    // Fetch from the source while the destination is checked (one round trip instead of two), except
    // from Docker Hub, where a manifest GET counts against the pull limit.
    const early = isDockerHub(source.client.registry) ? undefined : fetchSource()
    early?.catch(() => undefined)
    const present = await this.limit(() =>
      headManifest(this.dest.client, this.dest.repository, descriptor.digest, this.destScopes)
    )
    if (present) {
      this.stats.manifests.present++
      return
    }
    const manifest = await (early ?? fetchSource())
    if (!manifest) {
      throw new RegistryError(
        `manifest ${descriptor.digest} is listed in the index but missing from the source`,
        {
          status: 404,
          retryable: false
        }
      )
    }
    await this.ensureChildren(parseDocument(manifest))
    if (this.options.dryRun) {
      this.stats.manifests.wouldPush++
      return
    }
    await this.limit(() => putManifest(this.dest.client, this.dest.repository, descriptor.digest, manifest))
    this.stats.manifests.pushed++
  }

  private ensureBlob(descriptor: Descriptor): Promise<BlobOutcome> {
    let pending = this.blobs.get(descriptor.digest)
    if (!pending) {
      pending = this.limit(() => this.copyBlob(descriptor))
      this.blobs.set(descriptor.digest, pending)
    }
    return pending
  }

  private async copyBlob(descriptor: Descriptor): Promise<BlobOutcome> {
    const started = Date.now()
    const outcome = await this.transferBlob(descriptor)
    this.stats.blobs[outcome].count++
    this.stats.blobs[outcome].bytes += descriptor.size
    const size = formatBytes(descriptor.size).padStart(10)
    const elapsed = formatDuration(Date.now() - started)
    const label = {
      present: 'skipped (present)',
      mounted: 'mounted',
      copied: 'copied',
      'would-copy': 'would copy'
    }
    this.log.info(`${descriptor.digest} ${size}  ${label[outcome]} in ${elapsed}`)
    return outcome
  }

  private async transferBlob(descriptor: Descriptor): Promise<BlobOutcome> {
    const { digest } = descriptor
    let ready: OpenTransfer | undefined
    let session: UploadSession | undefined
    if (!this.options.dryRun && !this.sameRegistry && descriptor.size <= SPECULATE_BYTES) {
      // A small blob is checked, its upload opened and its download started all at once: one round
      // trip instead of two. When it turns out present, a cancelled session and a dropped small
      // download are the whole cost.
      await this.options.writeGate
      const [exists, opened] = await Promise.allSettled([
        blobExists(this.dest.client, this.dest.repository, digest),
        this.openTransfer(digest)
      ])
      if (exists.status === 'rejected' || exists.value) {
        if (opened.status === 'fulfilled') this.abandon(opened.value)
        if (exists.status === 'rejected') throw exists.reason
        return 'present'
      }
      // A failed open or download is retried below like any other attempt.
      if (opened.status === 'fulfilled') ready = opened.value
    } else {
      if (await blobExists(this.dest.client, this.dest.repository, digest)) return 'present'
      if (this.options.dryRun) return 'would-copy'
      await this.options.writeGate
      if (this.sameRegistry) {
        const mount = await mountBlob(
          this.dest.client,
          this.dest.repository,
          digest,
          this.options.source.repository
        )
        if (mount.mounted) return 'mounted'
        session = { location: mount.location }
      }
    }

    const target: BlobTarget = { repository: this.dest.repository, digest, size: descriptor.size }
    await withRetry(
      async () => {
        const transfer = ready ?? (await this.openTransfer(digest, session))
        // A retry always starts from a fresh download and a fresh upload session.
        ready = undefined
        session = undefined
        try {
          await this.uploadOnce(target, transfer.session, transfer.response)
        } catch (error) {
          void cancelUpload(this.dest.client, this.dest.repository, transfer.session.location)
          throw wrapBlobError(digest, error)
        }
      },
      {
        attempts: this.options.blobAttempts ?? 5,
        signal: this.dest.client.signal,
        onRetry: (error, attempt, delay) => {
          this.stats.retries++
          this.log.warning(
            `${digest}: attempt ${attempt} failed (${describeError(error)}); retrying in ${delay} ms`
          )
        }
      }
    )
    return 'copied'
  }

  /** Opens the upload and starts the download together: one round trip instead of two. */
  private async openTransfer(digest: string, session?: UploadSession): Promise<OpenTransfer> {
    const [opened, fetched] = await Promise.allSettled([
      session ?? startUpload(this.dest.client, this.dest.repository),
      getBlob(this.options.source.client, this.options.source.repository, digest)
    ])
    if (opened.status === 'fulfilled' && fetched.status === 'fulfilled') {
      return { session: opened.value, response: fetched.value }
    }
    if (fetched.status === 'fulfilled') discard(fetched.value.body)
    if (opened.status === 'fulfilled')
      void cancelUpload(this.dest.client, this.dest.repository, opened.value.location)
    const reason = opened.status === 'rejected' ? opened.reason : (fetched as PromiseRejectedResult).reason
    throw wrapBlobError(digest, reason)
  }

  private abandon(transfer: OpenTransfer): void {
    discard(transfer.response.body)
    void cancelUpload(this.dest.client, this.dest.repository, transfer.session.location)
  }

  private async uploadOnce(target: BlobTarget, session: UploadSession, response: Response): Promise<void> {
    const count = (n: number): void => {
      this.stats.bytesTransferred += n
    }
    const stream = verifyStream(response.body, target, `blob ${target.digest}`, count)
    try {
      if (this.uploadMode === 'chunked') {
        await this.uploadChunked(target, session, stream)
        return
      }
      try {
        await putMonolithic(this.dest.client, target, session, stream)
      } catch (error) {
        if (!refusesMonolithic(error)) throw error
        // Some registries (and proxies limiting request size) only take PATCH chunks: switch for good.
        this.uploadMode = 'chunked'
        this.log.info(
          `the destination refused a single-request upload (${describeError(error)}); using chunked uploads`
        )
        throw new RegistryError(`switching to chunked upload`, { retryable: true, cause: error })
      }
    } finally {
      discard(response.body)
    }
  }

  private async uploadChunked(
    target: BlobTarget,
    session: UploadSession,
    stream: AsyncIterable<Uint8Array>
  ): Promise<void> {
    const chunkBytes = Math.max(this.options.chunkBytes ?? DEFAULT_CHUNK_BYTES, session.minChunkBytes ?? 0)
    const reader = new ChunkReader(stream)
    let location = session.location
    let offset = 0
    do {
      const length = Math.min(chunkBytes, target.size - offset)
      location = await patchChunk(this.dest.client, target, location, reader.take(length), offset, length)
      offset += length
    } while (offset < target.size)
    await reader.end()
    await finishUpload(this.dest.client, target, location)
  }
}

/** Cuts one stream into consecutive exact-length sub-streams, without buffering a whole chunk. */
class ChunkReader {
  private readonly iterator: AsyncIterator<Uint8Array>
  private carry: Uint8Array | undefined

  constructor(stream: AsyncIterable<Uint8Array>) {
    this.iterator = stream[Symbol.asyncIterator]()
  }

  async *take(length: number): AsyncGenerator<Uint8Array> {
    let remaining = length
    while (remaining > 0) {
      let chunk = this.carry
      this.carry = undefined
      if (!chunk) {
        const next = await this.iterator.next()
        if (next.done) throw new RegistryError('the source stream ended early', { retryable: true })
        chunk = next.value
      }
      if (chunk.length > remaining) {
        this.carry = chunk.subarray(remaining)
        chunk = chunk.subarray(0, remaining)
      }
      remaining -= chunk.length
      yield chunk
    }
  }

  /** Drains the source so that its end-of-stream checks (digest, length) run. */
  async end(): Promise<void> {
    if (this.carry?.length)
      throw new RegistryError('the source stream is longer than its descriptor', { retryable: true })
    const next = await this.iterator.next()
    if (!next.done)
      throw new RegistryError('the source stream is longer than its descriptor', { retryable: true })
  }
}

function refusesMonolithic(error: unknown): boolean {
  if (!(error instanceof RegistryError) || error.status === undefined) return false
  if (error.status === 413 || error.status === 405 || error.status === 416) return true
  return (
    error.status === 400 && error.details.some((d) => d.code === 'UNSUPPORTED' || d.code === 'SIZE_INVALID')
  )
}

function wrapBlobError(digest: string, error: unknown): unknown {
  if (error instanceof RegistryError && error.message.includes(digest)) return error
  const message = `copy blob ${digest}: ${describeError(error)}`
  if (error instanceof RegistryError) {
    return new RegistryError(message, {
      status: error.status,
      retryable: error.retryable,
      retryAfterMs: error.retryAfterMs,
      details: error.details,
      cause: error
    })
  }
  return new RegistryError(message, { retryable: isRetryable(error), cause: error })
}

/** Parses a manifest enough to walk it; anything else is not an image we can copy. */
export function parseDocument(manifest: Manifest): IndexDocument | ManifestDocument {
  let parsed: unknown
  try {
    parsed = JSON.parse(manifest.bytes.toString('utf8'))
  } catch (error) {
    throw new RegistryError(`manifest ${manifest.digest} is not valid JSON`, {
      retryable: false,
      cause: error
    })
  }
  const doc = parsed as Partial<IndexDocument & ManifestDocument>
  if (INDEX_TYPES.has(manifest.mediaType) || (Array.isArray(doc.manifests) && !doc.config)) {
    if (!Array.isArray(doc.manifests)) {
      throw new RegistryError(`index ${manifest.digest} has no manifests list`, { retryable: false })
    }
    return { mediaType: manifest.mediaType, manifests: doc.manifests.map(checkDescriptor) }
  }
  if (MANIFEST_TYPES.has(manifest.mediaType) || doc.config) {
    if (!doc.config)
      throw new RegistryError(`manifest ${manifest.digest} has no config`, { retryable: false })
    return {
      mediaType: manifest.mediaType,
      config: checkDescriptor(doc.config),
      layers: (doc.layers ?? []).map(checkDescriptor)
    }
  }
  throw new RegistryError(`manifest ${manifest.digest} has unsupported media type "${manifest.mediaType}"`, {
    retryable: false
  })
}

function checkDescriptor(descriptor: Descriptor): Descriptor {
  if (
    typeof descriptor?.digest !== 'string' ||
    !isValidDigest(descriptor.digest) ||
    !Number.isSafeInteger(descriptor.size) ||
    descriptor.size < 0
  ) {
    throw new RegistryError(`invalid descriptor ${JSON.stringify(descriptor).slice(0, 200)}`, {
      retryable: false
    })
  }
  return descriptor
}
