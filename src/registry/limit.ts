// A counting semaphore: at most `limit` tasks run at once. Waiting tasks start highest priority
// first, in call order among equals (a release set's copies share one, and its largest blobs start
// first across every image).

export type Limiter = <T>(task: () => Promise<T>, priority?: number) => Promise<T>

export function createLimiter(limit: number): Limiter {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`limit must be a positive integer, got ${limit}`)
  let active = 0
  const waiting: { priority: number; start: () => void }[] = []
  // A finishing task hands its slot straight to the next waiter, so a newcomer cannot jump in between.
  const release = (): void => {
    const next = waiting.shift()
    if (next) next.start()
    else active--
  }
  return async <T>(task: () => Promise<T>, priority = Infinity): Promise<T> => {
    if (active >= limit) {
      await new Promise<void>((start) => {
        // After the last waiter of at least this priority: stable among equals.
        let at = waiting.length
        while (at > 0 && waiting[at - 1].priority < priority) at--
        waiting.splice(at, 0, { priority, start })
      })
    } else active++
    try {
      return await task()
    } finally {
      release()
    }
  }
}
