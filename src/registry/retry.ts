// Retries with full-jitter exponential backoff, only for errors another attempt can fix.
import { isRetryable, RegistryError } from './errors.js'

export interface RetryOptions {
  /** Total attempts, including the first. */
  attempts?: number
  baseDelayMs?: number
  maxDelayMs?: number
  /** Upper bound on a server-requested Retry-After wait. */
  maxRetryAfterMs?: number
  /** No retry starts once this much time has passed since the first attempt. */
  maxElapsedMs?: number
  signal?: AbortSignal
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void
  /** Which errors another attempt can fix; defaults to isRetryable. */
  retryable?: (error: unknown) => boolean
  /** For tests: a deterministic source of randomness in [0, 1). */
  random?: () => number
}

// Eight attempts ride out a registry that is down for several seconds (a restart, a failover) while
// the elapsed-time budget keeps a hopeless run from hanging a release job.
export const DEFAULT_RETRY: Required<
  Pick<RetryOptions, 'attempts' | 'baseDelayMs' | 'maxDelayMs' | 'maxRetryAfterMs' | 'maxElapsedMs'>
> = {
  attempts: 8,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 60_000,
  maxElapsedMs: 120_000
}

/** Full jitter: a uniform wait in [0, min(max, base * 2^attempt)). */
export function backoffDelay(attempt: number, options: RetryOptions = {}): number {
  const base = options.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs
  const max = options.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs
  const random = options.random ?? Math.random
  return Math.floor(random() * Math.min(max, base * 2 ** attempt))
}

export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions = {}
): Promise<T> {
  const attempts = options.attempts ?? DEFAULT_RETRY.attempts
  const deadline = Date.now() + (options.maxElapsedMs ?? DEFAULT_RETRY.maxElapsedMs)
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation(attempt)
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason ?? error
      if (attempt + 1 >= attempts || !(options.retryable ?? isRetryable)(error)) throw error
      let delay = backoffDelay(attempt, options)
      if (error instanceof RegistryError && error.retryAfterMs !== undefined) {
        delay = Math.min(
          Math.max(delay, error.retryAfterMs),
          options.maxRetryAfterMs ?? DEFAULT_RETRY.maxRetryAfterMs
        )
      }
      if (Date.now() + delay > deadline) throw error
      options.onRetry?.(error, attempt + 1, delay)
      await sleep(delay, options.signal)
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
