// A counting semaphore: at most `limit` tasks run at once, started in call order.

export type Limiter = <T>(task: () => Promise<T>) => Promise<T>

export function createLimiter(limit: number): Limiter {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`limit must be a positive integer, got ${limit}`)
  let active = 0
  const waiting: (() => void)[] = []
  // A finishing task hands its slot straight to the next waiter, so a newcomer cannot jump in between.
  const release = (): void => {
    const next = waiting.shift()
    if (next) next()
    else active--
  }
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve))
    else active++
    try {
      return await task()
    } finally {
      release()
    }
  }
}
