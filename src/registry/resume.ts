// A blob download that survives a reset: where the source answers Range requests, the stream goes
// on from the last byte received, so the upload it feeds never notices. The caller still verifies
// the digest over the whole stream.
import { header } from './auth.js'
import { isAbort, isRetryable, RegistryError, SourceStreamError } from './errors.js'
import { discard, repositoryScope, type RegistryClient, type Response } from './transport.js'

export interface ResumeOptions {
  client: RegistryClient
  repository: string
  digest: string
  size: number
  /** Told of each resume, for the log and the retry count. */
  onResume?: (offset: number, error: unknown) => void
}

/**
 * The body of `first`, continued after a retryable read error with `Range: bytes=N-` requests. A
 * source that ignores Range (answers 200), or a failure before any byte arrived, ends the stream
 * with the original error: the caller then starts over.
 */
export function resumableBody(first: Response, options: ResumeOptions): AsyncIterableIterator<Uint8Array> {
  return new ResumableBody(first, options)
}

// A plain iterator rather than an async generator: every chunk of every blob passes through here,
// and the common path (no failure) is one call to the body's own iterator (measured: a generator
// layer cost ~8% CPU on large layers).
class ResumableBody implements AsyncIterableIterator<Uint8Array> {
  private body: Response['body']
  private iterator: AsyncIterator<Uint8Array>
  private offset = 0
  private resumedAt = -1

  constructor(
    first: Response,
    private readonly options: ResumeOptions
  ) {
    this.body = first.body
    this.iterator = this.body[Symbol.asyncIterator]()
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    return this.iterator.next().then(
      (result) => {
        if (!result.done) this.offset += result.value.length
        return result
      },
      (error: unknown) => this.recover(error)
    )
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    discard(this.body)
    return { done: true, value: undefined }
  }

  private async recover(error: unknown): Promise<IteratorResult<Uint8Array>> {
    const { options, offset } = this
    discard(this.body)
    if (options.client.signal?.aborted || isAbort(error)) throw error
    const failure = asSourceError(options, offset, error)
    // Without progress since the last resume, another resume would only loop.
    if (!isRetryable(error) || offset === 0 || offset <= this.resumedAt || offset >= options.size)
      throw failure
    const next = await requestRange(options, offset).catch(() => undefined)
    if (!next) throw failure
    options.onResume?.(offset, error)
    this.resumedAt = offset
    this.body = next.body
    this.iterator = this.body[Symbol.asyncIterator]()
    return this.next()
  }
}

async function requestRange(options: ResumeOptions, offset: number): Promise<Response | undefined> {
  const response = await options.client.request({
    method: 'GET',
    url: `/v2/${options.repository}/blobs/${options.digest}`,
    scopes: [repositoryScope(options.repository, 'pull')],
    headers: { range: `bytes=${offset}-` },
    expect: [206],
    allow: [200],
    what: `GET blob ${options.digest} from byte ${offset}`,
    // One try: when it fails, the blob's own retry starts over (one level of retry).
    retry: false
  })
  const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(response.headers, 'content-range') ?? '')
  if (response.status !== 206 || !range || Number(range[1]) !== offset) {
    // The source sent the whole blob again (or another range): not a continuation.
    discard(response.body)
    return undefined
  }
  return response
}

/** The download's failure in the source's words (its host and proxy), marked as the source's. */
function asSourceError(options: ResumeOptions, offset: number, error: unknown): RegistryError {
  if (error instanceof RegistryError)
    return new SourceStreamError(error.message, { retryable: error.retryable, cause: error })
  const described = options.client.describeFailure(
    `download of blob ${options.digest} (at byte ${offset})`,
    'GET',
    `/v2/${options.repository}/blobs/${options.digest}`,
    error
  )
  return new SourceStreamError(described.message, { retryable: described.retryable, cause: error })
}
