// Verifiers for the trust artifacts of trust-fixtures.mjs, run after a promotion against the
// destination: each fetches what a real verifier would (digest tags, the referrers API or the
// fallback tag), checks blob digests, and verifies signatures with the public key.
import { createPublicKey, verify } from 'node:crypto'
import { bundleFromJSON } from '@sigstore/bundle'
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify'
import {
  COSIGN_SIGNATURE,
  MEDIA,
  call,
  digestTag,
  fallbackTag,
  fetchBlob,
  fetchManifest,
  pae,
  sha256
} from './trust-fixtures.mjs'

/** A KeyObject from a KeyObject, a PEM string or a key pair of generateKeyPair(). */
const publicKeyOf = (key) => (typeof key === 'string' ? createPublicKey(key) : (key.publicKey ?? key))

/** Fetches a layer's blob and checks it against its descriptor; undefined when it does not match. */
async function checkedBlob(registry, repository, descriptor) {
  const bytes = await fetchBlob(registry, repository, descriptor.digest)
  if (sha256(bytes) !== descriptor.digest || bytes.length !== descriptor.size) return undefined
  return bytes
}

/** The layers of `sha256-<hex>.<suffix>`, checked one by one by `check(bytes, layer)`; the count that passed. */
async function countDigestTagLayers(registry, repository, digest, suffix, check) {
  const manifest = await fetchManifest(registry, repository, digestTag(digest, suffix))
  if (!manifest) return 0
  let verified = 0
  for (const layer of manifest.json.layers ?? []) {
    try {
      const bytes = await checkedBlob(registry, repository, layer)
      if (bytes && check(bytes, layer)) verified++
    } catch {
      // A layer that cannot be fetched or parsed does not verify.
    }
  }
  return verified
}

/**
 * Verifies the cosign signatures at `sha256-<hex>.sig` as `cosign verify --key` does: payload digest
 * matches, `critical.image.docker-manifest-digest` is `digest`, signature valid for `publicKey`.
 * @returns {Promise<number>} the number of layers that verified (0 when the tag is missing)
 */
export async function verifyCosignSignatures(registry, repository, digest, publicKey) {
  const key = publicKeyOf(publicKey)
  return countDigestTagLayers(registry, repository, digest, 'sig', (bytes, layer) => {
    if (layer.mediaType !== MEDIA.simpleSigning) return false
    const payload = JSON.parse(bytes.toString('utf8'))
    if (payload?.critical?.image?.['docker-manifest-digest'] !== digest) return false
    if (payload.critical.type !== 'cosign container image signature') return false
    const signature = layer.annotations?.[COSIGN_SIGNATURE]
    return Boolean(signature) && verify('sha256', bytes, key, Buffer.from(signature, 'base64'))
  })
}

/** Does an in-toto statement name `digest` among its subjects? */
function statementNames(statementBytes, digest) {
  const statement = JSON.parse(statementBytes.toString('utf8'))
  const [algorithm, hex] = digest.split(':')
  return (statement.subject ?? []).some((s) => s?.digest?.[algorithm] === hex)
}

/**
 * Verifies the cosign attestations at `sha256-<hex>.att`: each DSSE envelope's signature over the
 * PAE bytes, and a statement subject naming `digest`.
 * @returns {Promise<number>} the number of layers that verified
 */
export async function verifyCosignAttestations(registry, repository, digest, publicKey) {
  const key = publicKeyOf(publicKey)
  return countDigestTagLayers(registry, repository, digest, 'att', (bytes, layer) => {
    if (layer.mediaType !== MEDIA.dsse) return false
    const envelope = JSON.parse(bytes.toString('utf8'))
    if (envelope.payloadType !== MEDIA.inToto) return false
    const body = Buffer.from(envelope.payload, 'base64')
    const signed = (envelope.signatures ?? []).some((s) =>
      verify('sha256', pae(envelope.payloadType, body), key, Buffer.from(s.sig, 'base64'))
    )
    return signed && statementNames(body, digest)
  })
}

/**
 * The referrers of `digest`: from `GET /v2/<repo>/referrers/<digest>` (following `Link` pages) when
 * it answers 200 with an image index, else from the fallback tag `sha256-<hex>` (empty when missing).
 * `via`: 'auto' (default), 'api' (never the tag: [] when there is no API) or 'tag' (never the API).
 * @returns {Promise<Array<{ mediaType: string, digest: string, size: number, artifactType?: string, annotations?: object }>>}
 */
export async function listReferrersAt(registry, repository, digest, { via = 'auto', artifactType } = {}) {
  if (via !== 'tag') {
    const listed = await referrersByApi(registry, repository, digest, artifactType)
    if (listed || via === 'api') return listed ?? []
  }
  const index = await fetchManifest(registry, repository, fallbackTag(digest))
  if (!index || index.json.mediaType !== MEDIA.index) return []
  const all = index.json.manifests ?? []
  return artifactType ? all.filter((d) => d.artifactType === artifactType) : all
}

/** The referrers API's answer, all pages, filtered client-side when the server did not; undefined when there is no API. */
async function referrersByApi(registry, repository, digest, artifactType) {
  const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : ''
  let next = `${registry.url}/v2/${repository}/referrers/${digest}${query}`
  const out = []
  let filtered = true
  for (let page = 0; next; page++) {
    if (page > 1000) throw new Error('referrers: too many pages')
    const res = await call(registry, 'GET', next, { repository, headers: { accept: MEDIA.index } })
    const text = await res.body.text()
    const type = String(res.headers['content-type'] ?? '')
      .split(';')[0]
      .trim()
    if (res.statusCode !== 200 || type !== MEDIA.index) {
      if (page === 0) return undefined
      throw new Error(`referrers page ${page} answered ${res.statusCode} ${type}`)
    }
    out.push(...(JSON.parse(text).manifests ?? []))
    if (!String(res.headers['oci-filters-applied'] ?? '').includes('artifactType')) filtered = false
    const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ''))
    next = link ? new URL(link[1], next).toString() : undefined
  }
  return artifactType && !filtered ? out.filter((d) => d.artifactType === artifactType) : out
}

const EMPTY_TRUSTED_ROOT = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: []
}

/**
 * Verifies the sigstore bundle referrers of `digest` with @sigstore/verify, as `cosign verify --key
 * --insecure-ignore-tlog` does: signature by `publicKeyPem`, no tlog or timestamp required, the
 * manifest's subject is `digest` and the statement names it.
 * @returns {Promise<number>} the number of bundle referrers that verified
 */
export async function verifyBundleReferrers(registry, repository, digest, publicKeyPem) {
  const publicKey = publicKeyOf(publicKeyPem)
  const keyFinderFromHint = () => ({ publicKey, validFor: () => true })
  const verifier = new Verifier(toTrustMaterial(EMPTY_TRUSTED_ROOT, keyFinderFromHint), {
    tlogThreshold: 0,
    ctlogThreshold: 0,
    timestampThreshold: 0
  })
  let verified = 0
  for (const referrer of await listReferrersAt(registry, repository, digest)) {
    if (referrer.artifactType !== MEDIA.bundle) continue
    try {
      const manifest = await fetchManifest(registry, repository, referrer.digest)
      if (!manifest || manifest.digest !== referrer.digest || manifest.json.subject?.digest !== digest)
        continue
      const layer = (manifest.json.layers ?? []).find((l) =>
        l.mediaType.startsWith('application/vnd.dev.sigstore.bundle')
      )
      const bytes = layer && (await checkedBlob(registry, repository, layer))
      if (!bytes) continue
      const bundle = bundleFromJSON(JSON.parse(bytes.toString('utf8')))
      verifier.verify(toSignedEntity(bundle))
      if (bundle.content.$case !== 'dsseEnvelope') continue
      if (statementNames(Buffer.from(bundle.content.dsseEnvelope.payload), digest)) verified++
    } catch {
      // A bundle that does not parse or verify does not count.
    }
  }
  return verified
}
