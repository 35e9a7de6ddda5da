// One blob's way to the destination: checked, mounted where the registry allows it, else streamed
// GET → PUT, verified against its digest, resumed or retried on failure.
import type { BlobOutcome, CopyOptions, CopyStats, Endpoint, UploadMode } from './copy-types.js'
import { DEFAULT_CHUNK_BYTES } from './copy-types.js'
import { verifyStream } from './digest.js'
import { DigestMismatchError, describeError, RegistryError } from './errors.js'
import { getBlob } from './fetch.js'
import type { Logger } from './logger.js'
import type { Descriptor } from './media-types.js'
import { resumableBody } from './resume.js'
import { withRetry } from './retry.js'
import { discard, repositoryScope, type Response } from './transport.js'
import { ChunkReader, refusesMonolithic, wrapBlobError } from './upload.js'
import {
  blobExists,
  cancelUpload,
  finishUpload,
  mountBlob,
  patchChunk,
  putMonolithic,
  startUpload,
  type BlobTarget,
  type UploadSession
} from './write.js'

/** Blobs up to this size are checked and transferred speculatively (see transfer). */
const SPECULATE_BYTES = 1024 * 1024

interface OpenTransfer {
  session: UploadSession
  response: Response
}

export class BlobCopier {
  private uploadMode: UploadMode
  /** Repositories the destination refused to mount from: not asked again this run. */
  private readonly mountRefused = new Set<string>()
  private readonly sameRegistry: boolean

  constructor(
    private readonly options: CopyOptions,
    private readonly stats: CopyStats
  ) {
    this.uploadMode = options.uploadMode ?? 'monolithic'
    this.sameRegistry =
      options.source.client.registry === options.destination.client.registry &&
      options.source.repository !== options.destination.repository
  }

  private get dest(): Endpoint {
    return this.options.destination
  }

  private get log(): Logger {
    return this.options.logger ?? this.options.destination.client.logger
  }

  async transfer(descriptor: Descriptor): Promise<BlobOutcome> {
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
    // Progress is the furthest byte any attempt reached: every attempt starts from byte 0, so one
    // that streams only what an earlier one already had gained nothing.
    let furthest = 0
    const attempts = this.options.blobAttempts ?? 5
    await withRetry(
      async () => {
        const transfer = ready ?? (await this.openTransfer(digest, session))
        // A retry always starts from a fresh download and a fresh upload session.
        ready = undefined
        session = undefined
        let reached = 0
        try {
          await this.uploadOnce(target, transfer.session, transfer.response, (n) => {
            reached += n
          })
        } catch (error) {
          // Bytes that turned out corrupt were no progress: a source that keeps serving them must
          // run out of retries.
          if (!isCorrupt(error)) furthest = Math.max(furthest, reached)
          void cancelUpload(this.dest.client, this.dest.repository, transfer.session.location)
          throw wrapBlobError(digest, error)
        }
      },
      {
        attempts,
        // However much progress: a blob that keeps failing ends.
        maxAttempts: attempts * 4,
        maxElapsedMs: this.dest.client.network.retryBudgetMs,
        signal: this.dest.client.signal,
        // An attempt that got further earns fresh retries: the budget bounds failing, not copying.
        progress: () => furthest,
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
