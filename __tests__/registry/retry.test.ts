import { describe, expect, test } from '@jest/globals'
import { backoffDelay, withRetry } from '../../src/registry/retry.js'
import {
  DigestMismatchError,
  isRetryable,
  parseRetryAfter,
  RegistryError
} from '../../src/registry/errors.js'

describe('isRetryable', () => {
  test.each([
    [new RegistryError('x', { status: 500 }), true],
    [new RegistryError('x', { status: 502 }), true],
    [new RegistryError('x', { status: 429 }), true],
    [new RegistryError('x', { status: 408 }), true],
    [new RegistryError('x', { status: 401 }), false],
    [new RegistryError('x', { status: 403 }), false],
    [new RegistryError('x', { status: 404 }), false],
    [new RegistryError('x', { status: 400 }), false],
    [new DigestMismatchError('corrupt'), true],
    [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), true],
    [new Error('boom', { cause: Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }) }), true],
    [Object.assign(new Error('aborted'), { name: 'AbortError' }), false],
    [new TypeError('bug'), false]
  ])('%s -> %s', (error, expected) => {
    expect(isRetryable(error)).toBe(expected)
  })
})

describe('parseRetryAfter', () => {
  test.each([
    ['3', 3000],
    [' 0 ', 0],
    ['Thu, 01 Jan 1970 00:00:10 GMT', 10_000],
    ['soon', undefined],
    [undefined, undefined]
  ])('%s -> %s', (value, expected) => {
    expect(parseRetryAfter(value, 0)).toBe(expected)
  })
})

describe('backoffDelay', () => {
  test('full jitter stays below the capped exponential', () => {
    expect(backoffDelay(0, { random: () => 0.999, baseDelayMs: 100 })).toBe(99)
    expect(backoffDelay(3, { random: () => 0.5, baseDelayMs: 100 })).toBe(400)
    expect(backoffDelay(20, { random: () => 0.999, baseDelayMs: 100, maxDelayMs: 1000 })).toBe(999)
    expect(backoffDelay(5, { random: () => 0 })).toBe(0)
  })
})

describe('withRetry', () => {
  const fast = { baseDelayMs: 1, maxDelayMs: 2 }

  test('retries retryable errors until success', async () => {
    let calls = 0
    const value = await withRetry(async () => {
      calls++
      if (calls < 3) throw new RegistryError('busy', { status: 503 })
      return 'ok'
    }, fast)
    expect(value).toBe('ok')
    expect(calls).toBe(3)
  })

  test('does not retry 401, 403 or 404', async () => {
    for (const status of [401, 403, 404]) {
      let calls = 0
      await expect(
        withRetry(async () => {
          calls++
          throw new RegistryError('no', { status })
        }, fast)
      ).rejects.toThrow('no')
      expect(calls).toBe(1)
    }
  })

  test('gives up after the attempts and throws the last error', async () => {
    let calls = 0
    await expect(
      withRetry(
        async () => {
          calls++
          throw new RegistryError(`fail ${calls}`, { status: 500 })
        },
        { ...fast, attempts: 3 }
      )
    ).rejects.toThrow('fail 3')
    expect(calls).toBe(3)
  })

  test('honours Retry-After, bounded by maxRetryAfterMs', async () => {
    const delays: number[] = []
    let calls = 0
    await withRetry(
      async () => {
        if (calls++ === 0) throw new RegistryError('slow down', { status: 429, retryAfterMs: 50 })
        return 'ok'
      },
      { ...fast, onRetry: (_e, _a, d) => delays.push(d) }
    )
    expect(delays).toEqual([50])
    calls = 0
    delays.length = 0
    await withRetry(
      async () => {
        if (calls++ === 0) throw new RegistryError('slow down', { status: 429, retryAfterMs: 3_600_000 })
        return 'ok'
      },
      { ...fast, maxRetryAfterMs: 20, onRetry: (_e, _a, d) => delays.push(d) }
    )
    expect(delays).toEqual([20])
  })

  test('an abort stops the wait', async () => {
    const controller = new AbortController()
    const pending = withRetry(
      async () => {
        throw new RegistryError('busy', { status: 503 })
      },
      { baseDelayMs: 60_000, maxDelayMs: 60_000, random: () => 0.99, signal: controller.signal }
    )
    controller.abort(new Error('cancelled'))
    await expect(pending).rejects.toThrow('cancelled')
  })
})

describe('withRetry time budget', () => {
  test('stops retrying once the next wait would pass maxElapsedMs', async () => {
    let calls = 0
    await expect(
      withRetry(
        async () => {
          calls++
          throw new RegistryError('down', { status: 503 })
        },
        { attempts: 100, baseDelayMs: 40, maxDelayMs: 40, random: () => 0.99, maxElapsedMs: 100 }
      )
    ).rejects.toThrow('down')
    expect(calls).toBeGreaterThanOrEqual(2)
    expect(calls).toBeLessThanOrEqual(4)
  })
})
