// The limiter a release set shares: never more than its limit at once, and waiting work starts
// highest priority first (largest blob first), in call order among equals.
import { expect, test } from '@jest/globals'
import { createLimiter } from '../../src/registry/index.js'

test('at most `limit` at once; waiting tasks start by priority, then in call order', async () => {
  const limit = createLimiter(1)
  const started: string[] = []
  let running = 0
  let peak = 0
  const task = (name: string) => async () => {
    started.push(name)
    peak = Math.max(peak, ++running)
    await new Promise((r) => setTimeout(r, 5))
    running--
  }
  await Promise.all([
    limit(task('first'), 1),
    limit(task('small'), 10),
    limit(task('large'), 1000),
    limit(task('medium-a'), 100),
    limit(task('medium-b'), 100),
    limit(task('manifest'))
  ])
  expect(peak).toBe(1)
  expect(started).toEqual(['first', 'manifest', 'large', 'medium-a', 'medium-b', 'small'])
})

test('a failing task frees its slot', async () => {
  const limit = createLimiter(1)
  await expect(limit(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom')
  await expect(limit(() => Promise.resolve('next'))).resolves.toBe('next')
})
