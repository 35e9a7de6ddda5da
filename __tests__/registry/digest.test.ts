import { describe, expect, test } from '@jest/globals'
import { createHash } from 'node:crypto'
import { digestOf, verifyStream } from '../../src/registry/digest.js'
import { DigestMismatchError } from '../../src/registry/errors.js'
import { createLimiter } from '../../src/registry/limit.js'

async function* chunks(...parts: string[]) {
  for (const p of parts) yield Buffer.from(p)
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<string> {
  let out = ''
  for await (const c of stream) out += Buffer.from(c).toString()
  return out
}

const sha = (s: string) => 'sha256:' + createHash('sha256').update(s).digest('hex')

describe('verifyStream', () => {
  test('passes matching content through unchanged', async () => {
    const seen: number[] = []
    const out = await collect(
      verifyStream(chunks('hello ', 'wor', 'ld'), { digest: sha('hello world'), size: 11 }, 'b', (n) =>
        seen.push(n)
      )
    )
    expect(out).toBe('hello world')
    expect(seen.reduce((a, b) => a + b, 0)).toBe(11)
  })

  test('withholds the last chunk when the digest does not match', async () => {
    const received: string[] = []
    const stream = verifyStream(chunks('hello ', 'world'), { digest: sha('hello there'), size: 11 }, 'blob x')
    await expect(
      (async () => {
        for await (const c of stream) received.push(Buffer.from(c).toString())
      })()
    ).rejects.toThrow(DigestMismatchError)
    expect(received).toEqual(['hello '])
  })

  test.each([
    ['short', ['hello'], 11, /received 5 bytes/],
    ['long', ['hello world!'], 11, /more than the 11 bytes/]
  ])('detects a %s stream', async (_n, parts, size, message) => {
    await expect(
      collect(verifyStream(chunks(...parts), { digest: sha('hello world'), size }, 'b'))
    ).rejects.toThrow(message)
  })

  test('sha512 digests are verified with sha512', async () => {
    const digest = 'sha512:' + createHash('sha512').update('abc').digest('hex')
    expect(await collect(verifyStream(chunks('abc'), { digest, size: 3 }, 'b'))).toBe('abc')
    expect(digestOf(Buffer.from('abc'), 'sha512')).toBe(digest)
  })
})

describe('createLimiter', () => {
  test('never runs more than the limit at once', async () => {
    const limit = createLimiter(3)
    let active = 0
    let peak = 0
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limit(async () => {
          active++
          peak = Math.max(peak, active)
          await new Promise((r) => setTimeout(r, i % 3))
          active--
        })
      )
    )
    expect(peak).toBe(3)
  })

  test('a failing task frees its slot', async () => {
    const limit = createLimiter(1)
    await expect(limit(async () => Promise.reject(new Error('x')))).rejects.toThrow('x')
    await expect(limit(async () => 'next')).resolves.toBe('next')
  })

  test('rejects a non-positive limit', () => {
    expect(() => createLimiter(0)).toThrow(RangeError)
  })
})
