// Upload helpers of the copy engine: cutting a stream into chunks, reading refusals, naming blobs in errors.
import { describeError, isRetryable, RegistryError } from './errors.js'

/** Cuts one stream into consecutive exact-length sub-streams, without buffering a whole chunk. */
export class ChunkReader {
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

export function refusesMonolithic(error: unknown): boolean {
  if (!(error instanceof RegistryError) || error.status === undefined) return false
  if (error.status === 413 || error.status === 405 || error.status === 416) return true
  return (
    error.status === 400 && error.details.some((d) => d.code === 'UNSUPPORTED' || d.code === 'SIZE_INVALID')
  )
}

export function wrapBlobError(digest: string, error: unknown): unknown {
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
