// Retries with full-jitter exponential backoff, only for errors another attempt can fix.
import { isRetryable, RegistryError } from './errors.js'

export interface RetryOptions {
  /** Attempts without progress, including the first. */
  attempts?: number
  /** Attempts in all, progress or not (default: unbounded by count; the budget still applies). */
  maxAttempts?: number
  baseDelayMs?: number
  maxDelayMs?: number
  /** Upper bound on a server-requested Retry-After wait. */
  maxRetryAfterMs?: number
  /** No retry starts once this much time has passed since the first attempt (or the last progress). */
  maxElapsedMs?: number
  signal?: AbortSignal
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void
  /** Which errors another attempt can fix; defaults to isRetryable. */
  retryable?: (error: unknown) => boolean
  /**
   * A counter of work done (bytes moved): an attempt that advanced it earns fresh retries, so the
   * budget bounds time spent failing, not time spent moving a large blob.
   */
  progress?: () => number
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

/** Errors that already had their retries: an outer loop must not retry them again (one level only). */
const exhausted = new WeakSet<object>()

export function isExhausted(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    if (typeof current === 'object' && exhausted.has(current)) return true
    current = (current as { cause?: unknown }).cause
  }
  return false
}

function markExhausted(error: unknown): unknown {
  if (error && typeof error === 'object') exhausted.add(error)
  return error
}

export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions = {}
): Promise<T> {
  const attempts = options.attempts ?? DEFAULT_RETRY.attempts
  const budget = options.maxElapsedMs ?? DEFAULT_RETRY.maxElapsedMs
  let deadline = Date.now() + budget
  // Failures since the last attempt that made progress: progress earns a fresh count and budget.
  let failures = 0
  for (let attempt = 0; ; attempt++) {
    const before = options.progress?.()
    try {
      return await operation(attempt)
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason ?? error
      if (isExhausted(error) || !(options.retryable ?? isRetryable)(error)) throw error
      if (options.progress && options.progress() !== before) {
        failures = 0
        deadline = Date.now() + budget
      }
      failures++
      if (failures >= attempts || attempt + 1 >= (options.maxAttempts ?? Infinity)) throw markExhausted(error)
      let delay = backoffDelay(failures - 1, options)
      if (error instanceof RegistryError && error.retryAfterMs !== undefined) {
        delay = Math.min(
          Math.max(delay, error.retryAfterMs),
          options.maxRetryAfterMs ?? DEFAULT_RETRY.maxRetryAfterMs
        )
      }
      if (Date.now() + delay > deadline) throw markExhausted(error)
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
