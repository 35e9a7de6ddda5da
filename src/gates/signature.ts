// The signature gate: the source's root digest must carry a valid signature by one of the trusted
// keys before anything is written. Two forms count: cosign's key-based signature in the
// `sha256-<hex>.sig` tag (a simple-signing payload naming the digest, signed over its exact bytes),
// and a Sigstore bundle referrer (DSSE statement naming the digest, or a message signature over the
// manifest), verified with @sigstore/verify against the key. What was found is said when none does.
import { describeKey, verifiesWith, type TrustedKey } from './keys.js'
import type { SignatureRequirement } from './options.js'
import { BUNDLE_TYPE, checkBundle } from './bundle.js'
import { layersOf, readSmallBlob } from './blobs.js'
import {
  fallbackTag,
  getManifest,
  printable,
  type Attachment,
  type Discovery,
  type Manifest,
  type RegistryClient
} from '../registry/index.js'

export const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json'
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature'

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
export interface Findings {
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
