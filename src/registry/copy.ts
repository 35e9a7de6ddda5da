// The copy engine: walks an image from its root manifest and makes every child manifest and blob
// present at the destination, by digest, without touching disk. Tags are the caller's: it writes
// them only after this resolves, so a tag never points at incomplete content.
import { verifyStream } from './digest.js'
import { isWalkable, parseDocument } from './document.js'
import { DigestMismatchError, describeError, RegistryError } from './errors.js'
import { getBlob, getManifest, headManifest, type Manifest } from './fetch.js'
import { formatBytes, formatDuration } from './format.js'
import { createLimiter, type Limiter } from './limit.js'
import { MANIFEST_ACCEPT, type Descriptor, type IndexDocument, type ManifestDocument } from './media-types.js'
import { isDockerHub } from './reference.js'
import { resumableBody } from './resume.js'
import { withRetry } from './retry.js'
import { discard, repositoryScope, type RegistryClient, type Response } from './transport.js'
import { ChunkReader, refusesMonolithic, wrapBlobError } from './upload.js'
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

export { parseDocument } from './document.js'

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
/** Blobs up to this size are checked and transferred speculatively (see transferBlob). */
const SPECULATE_BYTES = 1024 * 1024

interface OpenTransfer {
  session: UploadSession
  response: Response
}

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
  private readonly stats: CopyStats
  private readonly sameRegistry: boolean
  /** Repositories the destination refused to mount from: not asked again this run. */
  private readonly mountRefused = new Set<string>()

  constructor(private readonly options: CopyOptions) {
    this.limit = createLimiter(options.concurrency)
    this.uploadMode = options.uploadMode ?? 'monolithic'
    this.stats = options.stats ?? emptyCopyStats()
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
      await this.ensureChildren(root.digest, document)
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
  private async ensureChildren(digest: string, document: IndexDocument | ManifestDocument): Promise<void> {
    if ('manifests' in document) {
      await Promise.all(document.manifests.map((child) => this.ensureManifest(child)))
      return
    }
    const all = [document.config, ...document.layers]
    this.stats.imageSizes[digest] = all.reduce((sum, d) => sum + d.size, 0)
    // Only layers that say where else they are served are left behind (foreign layers); a
    // non-distributable media type alone is no reason to skip content the manifest needs.
    const blobs = all.filter((d) => {
      if (!d.urls?.length) return true
      this.stats.foreign.count++
      this.stats.foreign.bytes += d.size
      this.log.info(
        `${d.digest} ${formatBytes(d.size).padStart(10)}  not copied: a foreign layer, served from ${d.urls[0]}`
      )
      return false
    })
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
    // A media type we do not know is copied as it is, by digest: the image spec asks clients to
    // tolerate them, and walking what we cannot read would only fail.
    const walk = isWalkable(descriptor.mediaType)
    const accept = !walk
      ? descriptor.mediaType
      : descriptor.mediaType
        ? `${descriptor.mediaType}, ${MANIFEST_ACCEPT}`
        : MANIFEST_ACCEPT
    const fetchSource = (): Promise<Manifest | undefined> =>
      this.limit(() => getManifest(source.client, source.repository, descriptor.digest, undefined, accept))
    // Fetch from the source while the destination is checked (one round trip instead of two), except
    // from Docker Hub, where a manifest GET counts against the pull limit.
    const early = isDockerHub(source.client.registry) ? undefined : fetchSource()
    early?.catch(() => undefined)
    const present = await this.limit(() =>
      headManifest(this.dest.client, this.dest.repository, descriptor.digest, this.destScopes, accept)
    )
    if (present) {
      this.stats.manifests.present++
      return
    }
    const manifest = await (early ?? fetchSource())
    if (!manifest) {
      throw new RegistryError(
        `manifest ${descriptor.digest} is listed in the index but missing from the source`,
        { status: 404, retryable: false }
      )
    }
    if (walk) {
      await this.ensureChildren(descriptor.digest, parseDocument(manifest))
    } else {
      this.stats.unwalked++
      this.log.info(`${descriptor.digest} (${descriptor.mediaType}): unknown media type, copied unwalked`)
    }
    if (this.options.dryRun) {
      this.stats.manifests.wouldPush++
      return
    }
    const exact = walk ? manifest : { bytes: manifest.bytes, mediaType: descriptor.mediaType }
    await this.limit(() => putManifest(this.dest.client, this.dest.repository, descriptor.digest, exact))
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
    const from = this.options.source.repository
    const mount = this.sameRegistry && !this.mountRefused.has(from)
    if (!this.options.dryRun && !mount && descriptor.size <= SPECULATE_BYTES) {
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
      if (mount) {
        const mounted = await this.tryMount(digest, from)
        if (mounted === true) return 'mounted'
        session = mounted
      }
    }

    const target: BlobTarget = { repository: this.dest.repository, digest, size: descriptor.size }
    let moved = 0
    await withRetry(
      async () => {
        const transfer = ready ?? (await this.openTransfer(digest, session))
        // A retry always starts from a fresh download and a fresh upload session.
        ready = undefined
        session = undefined
        const before = moved
        try {
          await this.uploadOnce(target, transfer.session, transfer.response, (n) => (moved += n))
        } catch (error) {
          // Bytes that turned out corrupt were no progress: a source that keeps serving them must
          // run out of retries.
          if (isCorrupt(error)) moved = before
          void cancelUpload(this.dest.client, this.dest.repository, transfer.session.location)
          throw wrapBlobError(digest, error)
        }
      },
      {
        attempts: this.options.blobAttempts ?? 5,
        maxElapsedMs: this.dest.client.network.retryBudgetMs,
        signal: this.dest.client.signal,
        // An attempt that moved bytes earns fresh retries: the budget bounds failing, not copying.
        progress: () => moved,
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

  /**
   * Asks the destination to link the blob from the source repository. true when it did; otherwise
   * the upload session to use instead (a registry that will not mount may offer one). A refusal
   * (401, 403, 404: these credentials may not read `from`) falls back to copying the bytes, and no
   * mount from that repository is tried again this run.
   */
  private async tryMount(digest: string, from: string): Promise<true | UploadSession | undefined> {
    // A token that lists its grants and lacks pull on `from` would only be refused: skip the request.
    const scopes = [repositoryScope(this.dest.repository, 'pull,push'), repositoryScope(from, 'pull')]
    if ((await this.dest.client.auth.grants(scopes, 'repository', from, 'pull')) === false) {
      this.refuseMounts(from, `the token for ${this.dest.repository} grants no pull on ${from}`)
      return undefined
    }
    try {
      const result = await mountBlob(this.dest.client, this.dest.repository, digest, from)
      if (result.mounted) return true
      this.refuseMounts(from, 'it answered with an upload session instead')
      return { location: result.location }
    } catch (error) {
      const status = error instanceof RegistryError ? error.status : undefined
      if (status !== 401 && status !== 403 && status !== 404) throw error
      this.refuseMounts(from, describeError(error))
      return undefined
    }
  }

  private refuseMounts(from: string, why: string): void {
    if (this.mountRefused.has(from)) return
    this.mountRefused.add(from)
    this.log.info(
      `the destination refused to mount blobs from ${from} (${why}); copying them through this runner instead`
    )
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

  private async uploadOnce(
    target: BlobTarget,
    session: UploadSession,
    response: Response,
    onBytes: (n: number) => void
  ): Promise<void> {
    const count = (n: number): void => {
      this.stats.bytesTransferred += n
      onBytes(n)
    }
    const body = resumableBody(response, {
      client: this.options.source.client,
      repository: this.options.source.repository,
      digest: target.digest,
      size: target.size,
      onResume: (offset, error) => {
        this.stats.retries++
        this.log.warning(
          `${target.digest}: download interrupted at byte ${offset} (${describeError(error)}); resuming from there`
        )
      }
    })
    const stream = verifyStream(body, target, `blob ${target.digest}`, count)
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

function isCorrupt(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    if (current instanceof DigestMismatchError) return true
    current = (current as { cause?: unknown }).cause
  }
  return false
}
