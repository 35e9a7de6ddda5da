// Public keys a signature gate trusts: PEM text or files holding it, each identified in the log by
// its position and the SHA-256 fingerprint of its SubjectPublicKeyInfo, and the raw signature check
// cosign's key-based signatures need (ECDSA and RSA over SHA-256, Ed25519).
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto'

export interface TrustedKey {
  /** `key 2` (its place among the keys given). */
  label: string
  /** SHA256:<base64> of the key's DER SubjectPublicKeyInfo. */
  fingerprint: string
  /** Where it came from: `PEM block 1`, or the file's name. */
  origin: string
  key: KeyObject
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g
const KEY_TYPES = new Set(['ec', 'rsa', 'rsa-pss', 'ed25519'])

export class KeyError extends Error {
  override name = 'KeyError'
}

/**
 * The public keys in `text` (one or more PEM blocks). Anything else in a block (a private key, a
 * certificate) is refused with what to give instead.
 */
export function parsePublicKeys(
  text: string,
  origin: (index: number) => string,
  name: string
): Omit<TrustedKey, 'label'>[] {
  const keys: Omit<TrustedKey, 'label'>[] = []
  const blocks = [...text.matchAll(PEM_BLOCK)]
  if (!blocks.length) {
    throw new KeyError(
      `${name} holds no complete PEM block (-----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----)`
    )
  }
  blocks.forEach((block, i) => {
    const kind = block[1]
    const where = origin(i + 1)
    if (kind.includes('PRIVATE')) {
      throw new KeyError(
        `${where} is a private key; give the public key (cosign public-key --key cosign.key) and keep the private one secret`
      )
    }
    if (kind !== 'PUBLIC KEY' && kind !== 'EC PUBLIC KEY' && kind !== 'RSA PUBLIC KEY') {
      throw new KeyError(`${where} is a ${kind.toLowerCase()}, not a public key (-----BEGIN PUBLIC KEY-----)`)
    }
    let key: KeyObject
    try {
      key = createPublicKey(block[0])
    } catch (error) {
      throw new KeyError(`${where} is not a valid public key (${(error as Error).message})`, { cause: error })
    }
    if (!KEY_TYPES.has(key.asymmetricKeyType ?? '')) {
      throw new KeyError(`${where} is a ${key.asymmetricKeyType} key; cosign keys are ECDSA, RSA or Ed25519`)
    }
    keys.push({ key, origin: where, fingerprint: fingerprintOf(key) })
  })
  return keys
}

export function fingerprintOf(key: KeyObject): string {
  const der = key.export({ type: 'spki', format: 'der' })
  return `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`
}

/** Whether `signature` (DER for ECDSA) over `payload` was made with `key`, as cosign verifies it. */
export function verifiesWith(key: KeyObject, payload: Buffer, signature: Buffer): boolean {
  try {
    if (key.asymmetricKeyType === 'ed25519') return verify(null, payload, key, signature)
    // cosign signs with SHA-256; newer signers pick the hash by curve (P-384: SHA-384, P-521: SHA-512).
    const curve = key.asymmetricKeyDetails?.namedCurve
    const hashes = [
      'sha256',
      ...(curve === 'secp384r1' ? ['sha384'] : curve === 'secp521r1' ? ['sha512'] : [])
    ]
    return hashes.some((hash) => verify(hash, payload, key, signature))
  } catch {
    return false
  }
}

export function describeKey(key: TrustedKey): string {
  return `${key.label} (${key.fingerprint}, ${key.origin})`
}
