// Digest computation and verification of byte streams against their descriptors.
import { createHash, type Hash } from 'node:crypto'
import { DigestMismatchError } from './errors.js'

export function algorithmOf(digest: string): 'sha256' | 'sha512' {
  const algorithm = digest.slice(0, digest.indexOf(':'))
  if (algorithm !== 'sha256' && algorithm !== 'sha512')
    throw new Error(`unsupported digest algorithm in ${digest}`)
  return algorithm
}

export function digestOf(bytes: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`
}

/**
 * Passes a stream through while hashing and counting it. It holds back the last chunk until the
 * source ends and the digest matches, so a consumer that needs every byte (an upload with a
 * Content-Length) can never complete with corrupt content: a mismatch throws instead.
 */
export async function* verifyStream(
  source: AsyncIterable<Uint8Array>,
  expected: { digest: string; size: number },
  label: string,
  onBytes?: (count: number) => void
): AsyncGenerator<Uint8Array> {
  const hash: Hash = createHash(algorithmOf(expected.digest))
  let received = 0
  let held: Uint8Array | undefined
  for await (const chunk of source) {
    received += chunk.length
    if (received > expected.size) {
      throw new DigestMismatchError(
        `${label}: received more than the ${expected.size} bytes its descriptor declares`
      )
    }
    hash.update(chunk)
    if (held) {
      onBytes?.(held.length)
      yield held
    }
    held = chunk
  }
  if (received !== expected.size) {
    throw new DigestMismatchError(
      `${label}: received ${received} bytes, its descriptor declares ${expected.size}`
    )
  }
  const actual = `${algorithmOf(expected.digest)}:${hash.digest('hex')}`
  if (actual !== expected.digest) {
    throw new DigestMismatchError(`${label}: content digest is ${actual}, expected ${expected.digest}`)
  }
  if (held) {
    onBytes?.(held.length)
    yield held
  }
}
