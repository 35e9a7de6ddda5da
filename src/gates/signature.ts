// The signature gate: the source's root digest must carry a valid signature by one of the trusted
// keys before anything is written. Two forms count: cosign's key-based signature in the
// `sha256-<hex>.sig` tag (a simple-signing payload naming the digest, signed over its exact bytes),
// and a Sigstore bundle referrer (DSSE statement naming the digest, or a message signature over the
// manifest), verified with @sigstore/verify against the key. What was found is said when none does.
import type { KeyObject } from 'node:crypto'
import { describeKey, verifiesWith, type TrustedKey } from './keys.js'
import type { SignatureRequirement } from './options.js'
import {
  digestOf,
  fallbackTag,
  getBlob,
  getManifest,
  printable,
  type Attachment,
  type Discovery,
  type Manifest,
  type RegistryClient
} from '../registry/index.js'

export const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json'
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature'
const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle'
const IN_TOTO = 'application/vnd.in-toto+json'
/** The predicate of cosign's own signing statement (cosign sign with the bundle format). */
export const COSIGN_SIGN_V1 = 'https://sigstore.dev/cosign/sign/v1'
/** Signature payloads and bundles are small; a larger blob is not read. */
const MAX_SIGNATURE_BLOB = 1024 * 1024

/** How the gate loads @sigstore/verify and @sigstore/bundle (lazily in the action, bundled in the CLI). */
export interface SigstoreModules {
  verify: typeof import('@sigstore/verify')
  bundle: typeof import('@sigstore/bundle')
}
export type SigstoreLoader = () => Promise<SigstoreModules>

export interface SignatureVerdict {
  key: TrustedKey
  /** `cosign signature in sha256-….sig`, `sigstore bundle referrer sha256:…`. */
  via: string
}

/** What each candidate turned out to be, for the refusal. */
interface Findings {
  /** Attestations by a trusted key: they are not signatures. */
  attestations: string[]
  otherKeys: number
  otherDigests: string[]
  unreadable: string[]
  candidates: number
}

export class GateRefusal extends Error {
  override name = 'GateRefusal'
}

export async function checkSignature(
  client: RegistryClient,
  repository: string,
  root: Manifest,
  requirement: SignatureRequirement,
  discover: () => Promise<Discovery>,
  loadSigstore: SigstoreLoader | undefined
): Promise<SignatureVerdict> {
  const findings: Findings = {
    attestations: [],
    otherKeys: 0,
    otherDigests: [],
    unreadable: [],
    candidates: 0
  }
  // cosign's tag is asked for by name first: when it verifies, the gate need not wait for the whole
  // discovery (referrers of every platform, levels below), which the trust chain's copy goes on with.
  const tag = `${fallbackTag(root.digest)}.sig`
  const direct = await getManifest(client, repository, tag).catch(() => undefined)
  if (direct) {
    const attachment: Attachment = {
      kind: 'digest-tag',
      subject: root.digest,
      manifest: direct,
      artifactType: '',
      tag,
      depth: 1
    }
    const verdict = await checkCosignTag(client, repository, root, attachment, requirement.keys, findings)
    if (verdict) return verdict
  }
  const discovery = await discover()
  const mine = discovery.attachments.filter((a) => a.subject === root.digest && a.depth === 1)
  const sigTags = mine.filter(
    (a) => a.kind === 'digest-tag' && a.tag?.endsWith('.sig') && !(direct && a.tag === tag)
  )
  const bundles = mine.filter((a) => a.kind === 'referrer' && a.artifactType.startsWith(BUNDLE_TYPE))
  for (const attachment of sigTags) {
    const verdict = await checkCosignTag(client, repository, root, attachment, requirement.keys, findings)
    if (verdict) return verdict
  }
  if (bundles.length) {
    if (!loadSigstore) throw new Error('no Sigstore loader was given: bundle referrers cannot be verified')
    const sigstore = await loadSigstore()
    for (const attachment of bundles) {
      const verdict = await checkBundle(
        client,
        repository,
        root,
        attachment,
        requirement.keys,
        findings,
        sigstore
      )
      if (verdict) return verdict
    }
  }
  throw new GateRefusal(describeRefusal(root.digest, requirement.keys, findings))
}

function describeRefusal(digest: string, keys: TrustedKey[], f: Findings): string {
  const trusted = keys.map(describeKey).join(', ')
  if (!f.candidates) {
    return (
      `no signature of ${digest} was found (no sha256-<hex>.sig tag, no Sigstore bundle referrer). ` +
      `Sign the image by digest (cosign sign --key …) before promoting it; trusted: ${trusted}`
    )
  }
  const parts: string[] = []
  if (f.otherDigests.length) {
    parts.push(
      `${f.otherDigests.length} signature(s) by a trusted key sign another digest (${[...new Set(f.otherDigests)].join(', ')}), not ${digest}`
    )
  }
  if (f.attestations.length) {
    parts.push(
      `${f.attestations.length} attestation(s) by a trusted key (${[...new Set(f.attestations)].join(', ')}) are not signatures`
    )
  }
  if (f.otherKeys) parts.push(`${f.otherKeys} signature(s) are by another key, none trusted`)
  if (f.unreadable.length) parts.push(`unreadable: ${f.unreadable.map((u) => printable(u, 300)).join('; ')}`)
  return `no valid signature of ${digest} by a trusted key: ${parts.join('; ')}. Trusted: ${trusted}`
}

async function checkCosignTag(
  client: RegistryClient,
  repository: string,
  root: Manifest,
  attachment: Attachment,
  keys: TrustedKey[],
  findings: Findings
): Promise<SignatureVerdict | undefined> {
  const layers = layersOf(attachment.manifest).filter((l) => l.mediaType === SIMPLE_SIGNING)
  for (const layer of layers) {
    findings.candidates++
    const signature = layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION]
    if (!signature) {
      findings.unreadable.push(
        `a layer of ${attachment.tag} has no ${COSIGN_SIGNATURE_ANNOTATION} annotation`
      )
      continue
    }
    let payload: Buffer
    try {
      payload = await readSmallBlob(client, repository, layer)
    } catch (error) {
      findings.unreadable.push(`${attachment.tag}: ${(error as Error).message}`)
      continue
    }
    const key = keys.find((k) => verifiesWith(k.key, payload, Buffer.from(signature, 'base64')))
    if (!key) {
      findings.otherKeys++
      continue
    }
    const named = signedDigest(payload)
    if (named !== root.digest) {
      findings.otherDigests.push(named ? printable(named, 80) : 'no docker-manifest-digest')
      continue
    }
    return { key, via: `cosign signature in ${attachment.tag}` }
  }
  return undefined
}

/** critical.image.docker-manifest-digest of a simple-signing payload (cosign checks the type too). */
function signedDigest(payload: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(payload.toString('utf8')) as {
      critical?: { type?: string; image?: { 'docker-manifest-digest'?: unknown } }
    }
    if (parsed.critical?.type !== 'cosign container image signature') return undefined
    const digest = parsed.critical.image?.['docker-manifest-digest']
    return typeof digest === 'string' ? digest : undefined
  } catch {
    return undefined
  }
}

async function checkBundle(
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

interface Layer {
  mediaType: string
  digest: string
  size: number
  annotations?: Record<string, string>
}

function layersOf(manifest: Manifest): Layer[] {
  try {
    const parsed = JSON.parse(manifest.bytes.toString('utf8')) as { layers?: Layer[] }
    return (parsed.layers ?? []).filter(
      (l) => typeof l?.mediaType === 'string' && typeof l.digest === 'string'
    )
  } catch {
    return []
  }
}

/** A small blob, read whole and checked against its descriptor. */
async function readSmallBlob(client: RegistryClient, repository: string, layer: Layer): Promise<Buffer> {
  if (!/^sha256:[a-f0-9]{64}$/.test(layer.digest)) throw new Error('a layer has no valid sha256 digest')
  if (!(layer.size <= MAX_SIGNATURE_BLOB)) throw new Error(`blob ${layer.digest} is larger than 1 MiB`)
  const response = await getBlob(client, repository, layer.digest)
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of response.body) {
    length += chunk.length
    if (length > layer.size) throw new Error(`blob ${layer.digest} is longer than its descriptor says`)
    chunks.push(chunk as Buffer)
  }
  const bytes = Buffer.concat(chunks)
  if (bytes.length !== layer.size || digestOf(bytes, 'sha256') !== layer.digest) {
    throw new Error(`blob ${layer.digest} does not match its digest`)
  }
  return bytes
}
