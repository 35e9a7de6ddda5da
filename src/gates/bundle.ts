// Sigstore bundle referrers as signatures: the bundle is verified with @sigstore/verify against a
// trusted key, must be cosign's signing statement (not an attestation), and must name the digest.
import type { KeyObject } from 'node:crypto'
import type { TrustedKey } from './keys.js'
import { layersOf, readSmallBlob } from './blobs.js'
import type { Findings, SigstoreModules, SignatureVerdict } from './signature.js'
import { printable, type Attachment, type Manifest, type RegistryClient } from '../registry/index.js'

export const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle'
const IN_TOTO = 'application/vnd.in-toto+json'
/** The predicate of cosign's own signing statement (cosign sign with the bundle format). */
export const COSIGN_SIGN_V1 = 'https://sigstore.dev/cosign/sign/v1'

export async function checkBundle(
  client: RegistryClient,
  repository: string,
  root: Manifest,
  attachment: Attachment,
  keys: TrustedKey[],
  findings: Findings,
  sigstore: SigstoreModules
): Promise<SignatureVerdict | undefined> {
  const layer = layersOf(attachment.manifest).find((l) => l.mediaType.startsWith(BUNDLE_TYPE))
  const name = `bundle ${attachment.manifest.digest}`
  if (!layer) return undefined
  findings.candidates++
  let bundle: ReturnType<SigstoreModules['bundle']['bundleFromJSON']>
  try {
    const bytes = await readSmallBlob(client, repository, layer)
    bundle = sigstore.bundle.bundleFromJSON(JSON.parse(bytes.toString('utf8')))
  } catch (error) {
    findings.unreadable.push(`${name}: ${(error as Error).message}`)
    return undefined
  }
  const key = keys.find((k) => bundleVerifies(sigstore, bundle, k.key, root.bytes))
  if (!key) {
    findings.otherKeys++
    return undefined
  }
  const predicate = predicateTypeOf(bundle)
  if (predicate !== undefined && predicate !== COSIGN_SIGN_V1) {
    // An attestation by the key (provenance, an SBOM) vouches for something else than "sign this".
    findings.attestations.push(printable(predicate, 120))
    return undefined
  }
  const named = bundleSubjects(bundle)
  if (!named.includes(root.digest)) {
    findings.otherDigests.push(named.join(', ') || 'no subject')
    return undefined
  }
  return { key, via: `sigstore bundle referrer ${attachment.manifest.digest}` }
}

/**
 * Signature check only: no transparency log, certificate or timestamp is required of a key. The
 * bundle's Rekor entries and timestamps are set aside first: with no trust root for them here,
 * @sigstore/verify would reject every bundle that carries one (cosign uploads to Rekor by default).
 */
function bundleVerifies(
  sigstore: SigstoreModules,
  signed: ReturnType<SigstoreModules['bundle']['bundleFromJSON']>,
  key: KeyObject,
  artifact: Buffer
): boolean {
  const bundle = {
    ...signed,
    verificationMaterial: {
      ...signed.verificationMaterial,
      tlogEntries: [],
      timestampVerificationData: undefined
    }
  }
  const { Verifier, toSignedEntity, toTrustMaterial } = sigstore.verify
  const material = toTrustMaterial(EMPTY_TRUSTED_ROOT, () => ({ publicKey: key, validFor: () => true }))
  const verifier = new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 })
  try {
    verifier.verify(
      toSignedEntity(bundle, bundle.content.$case === 'messageSignature' ? artifact : undefined)
    )
    return true
  } catch {
    return false
  }
}

/** A DSSE bundle's in-toto predicateType; undefined for a message signature. */
function predicateTypeOf(
  bundle: ReturnType<SigstoreModules['bundle']['bundleFromJSON']>
): string | undefined {
  if (bundle.content.$case !== 'dsseEnvelope') return undefined
  try {
    const statement = JSON.parse(Buffer.from(bundle.content.dsseEnvelope.payload).toString('utf8')) as {
      predicateType?: unknown
    }
    return typeof statement.predicateType === 'string' ? statement.predicateType : 'none'
  } catch {
    return 'none'
  }
}

/** The digests a verified bundle is about: its in-toto statement's subjects, or the signed message's. */
function bundleSubjects(bundle: ReturnType<SigstoreModules['bundle']['bundleFromJSON']>): string[] {
  if (bundle.content.$case === 'messageSignature') {
    const digest = bundle.content.messageSignature.messageDigest
    return digest ? [`sha256:${Buffer.from(digest.digest).toString('hex')}`] : []
  }
  const envelope = bundle.content.dsseEnvelope
  if (envelope.payloadType !== IN_TOTO) return []
  try {
    const statement = JSON.parse(Buffer.from(envelope.payload).toString('utf8')) as {
      subject?: { digest?: { sha256?: string } }[]
    }
    return (statement.subject ?? []).flatMap((s) => (s.digest?.sha256 ? [`sha256:${s.digest.sha256}`] : []))
  } catch {
    return []
  }
}

const EMPTY_TRUSTED_ROOT = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: []
}
