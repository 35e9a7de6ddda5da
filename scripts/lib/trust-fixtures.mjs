// Trust artifacts for tests: cosign digest-tag signatures, attestations and SBOMs, and OCI 1.1
// referrers (sigstore bundles, Notation signatures, SBOMs), pushed with plain HTTP calls that share
// no code with the action. A registry is an object from registries.mjs (or a front of one):
// { url, host, dispatcher?, authHeader(repository) }.
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { DSSEBundleBuilder } from '@sigstore/sign'
import { bundleToJSON } from '@sigstore/bundle'
import { Agent, request } from 'undici'
import { pushBlob } from './images.mjs'

// No keep-alive: fixtures must not hold sockets open after a test file ends.
const agent = new Agent({ pipelining: 0 })

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  empty: 'application/vnd.oci.empty.v1+json',
  simpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  dsse: 'application/vnd.dsse.envelope.v1+json',
  inToto: 'application/vnd.in-toto+json',
  bundle: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  notation: 'application/vnd.cncf.notary.signature',
  jws: 'application/jose+json',
  spdx: 'application/spdx+json',
  cosignSpdx: 'text/spdx+json'
}
export const COSIGN_SIGNATURE = 'dev.cosignproject.cosign/signature'
export const SLSA_V1 = 'https://slsa.dev/provenance/v1'
export const COSIGN_SIGN_V1 = 'https://sigstore.dev/cosign/sign/v1'
const ACCEPT = [MEDIA.index, MEDIA.manifest, 'application/vnd.docker.distribution.manifest.v2+json'].join(
  ', '
)

/** `sha256:<hex>` of some bytes. */
export const sha256 = (bytes) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`
/** The OCI fallback tag of a subject: `sha256-<hex>`. */
export const fallbackTag = (digest) => digest.replace(':', '-')
/** A cosign digest tag: `sha256-<hex>.sig|.att|.sbom`. */
export const digestTag = (digest, suffix) => `${fallbackTag(digest)}.${suffix}`

function blobOf(bytes) {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes)
  return {
    size: buffer.length,
    digest: sha256(buffer),
    bytes: buffer,
    stream: async function* () {
      yield buffer
    }
  }
}

/** One request to a registry (or front) with its credentials; the caller consumes the body. */
export async function call(registry, method, path, { headers = {}, body, repository } = {}) {
  const authorization = await registry.authHeader(repository)
  const url = path.startsWith('http') ? path : `${registry.url}${path}`
  return request(url, {
    method,
    headers: { ...headers, ...(authorization ? { authorization } : {}) },
    body,
    dispatcher: registry.dispatcher ?? agent
  })
}

/** GET a manifest: { bytes, mediaType, digest, json }, or undefined on 404. */
export async function fetchManifest(registry, repository, reference) {
  const res = await call(registry, 'GET', `/v2/${repository}/manifests/${reference}`, {
    repository,
    headers: { accept: ACCEPT }
  })
  const bytes = Buffer.from(await res.body.arrayBuffer())
  if (res.statusCode === 404) return undefined
  if (res.statusCode !== 200) throw new Error(`GET manifest ${reference} answered ${res.statusCode}`)
  return { bytes, mediaType: res.headers['content-type'], digest: sha256(bytes), json: JSON.parse(bytes) }
}

/** GET a blob's bytes (not checked: the verifiers check digests themselves). */
export async function fetchBlob(registry, repository, digest) {
  const res = await call(registry, 'GET', `/v2/${repository}/blobs/${digest}`, { repository })
  const bytes = Buffer.from(await res.body.arrayBuffer())
  if (res.statusCode !== 200) throw new Error(`GET blob ${digest} answered ${res.statusCode}`)
  return bytes
}

/** PUT a manifest; returns { digest, headers } (headers include `oci-subject` where a front sends it). */
export async function putManifest(registry, repository, reference, { mediaType, bytes }) {
  const res = await call(registry, 'PUT', `/v2/${repository}/manifests/${reference}`, {
    repository,
    headers: { 'content-type': mediaType },
    body: bytes
  })
  const text = await res.body.text()
  if (res.statusCode !== 201) throw new Error(`PUT manifest ${reference} answered ${res.statusCode}: ${text}`)
  return { digest: sha256(bytes), headers: res.headers }
}

function manifestOf(document) {
  const bytes = Buffer.from(JSON.stringify(document))
  return { mediaType: document.mediaType, bytes, digest: sha256(bytes) }
}

/** An ECDSA P-256 key pair, as `cosign generate-key-pair` makes (unencrypted here). */
export function generateKeyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { privateKey, publicKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) }
}

const privateKeyOf = (key) => key.privateKey ?? key
/** ECDSA over SHA-256, ASN.1 DER, as cosign and openssl dgst -sign write it. */
const signBytes = (key, bytes) => sign('sha256', bytes, privateKeyOf(key))

/** DSSE pre-authentication encoding: `DSSEv1 <len(type)> <type> <len(body)> <body>`. */
export function pae(type, body) {
  const t = Buffer.from(type)
  return Buffer.concat([Buffer.from(`DSSEv1 ${t.length} `), t, Buffer.from(` ${body.length} `), body])
}

/** An in-toto v1 statement about `digest`. */
function statement(digest, predicateType, predicate, name) {
  const [algorithm, hex] = digest.split(':')
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ ...(name ? { name } : {}), digest: { [algorithm]: hex } }],
    predicateType,
    predicate
  }
}

/**
 * Writes a cosign digest-tag artifact: `layer` added to the manifest at `sha256-<hex>.<suffix>`
 * (appended to the existing layers when `append`, as `cosign sign` and `cosign attest` do), with
 * an empty-image config whose diff_ids list the layers.
 */
async function writeDigestTag(registry, repository, digest, suffix, layer, append) {
  const tag = digestTag(digest, suffix)
  const blob = blobOf(layer.bytes)
  await pushBlob(registry, repository, blob)
  const descriptor = {
    mediaType: layer.mediaType,
    size: blob.size,
    digest: blob.digest,
    annotations: layer.annotations
  }
  const existing = append ? await fetchManifest(registry, repository, tag) : undefined
  const layers = [...(existing?.json.layers ?? []), descriptor]
  const config = blobOf(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: {}
    })
  )
  await pushBlob(registry, repository, config)
  const manifest = manifestOf({
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: { mediaType: MEDIA.config, size: config.size, digest: config.digest },
    layers
  })
  await putManifest(registry, repository, tag, manifest)
  return { tag, digest: manifest.digest, manifest, payload: blob.bytes }
}

/**
 * A cosign (legacy, tag-based) signature of `subject.digest`: simple-signing payload, signature in
 * the layer annotation, at tag `sha256-<hex>.sig` (appended when the tag exists).
 * @returns {Promise<{ tag: string, digest: string, manifest: { mediaType: string, bytes: Buffer, digest: string }, payload: Buffer }>}
 */
export async function signCosign(registry, repository, subject, key, { suffix = 'sig' } = {}) {
  const payload = Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': `${registry.host}/${repository}` },
        image: { 'docker-manifest-digest': subject.digest },
        type: 'cosign container image signature'
      },
      optional: null
    })
  )
  const annotations = { [COSIGN_SIGNATURE]: signBytes(key, payload).toString('base64') }
  const layer = { mediaType: MEDIA.simpleSigning, bytes: payload, annotations }
  return writeDigestTag(registry, repository, subject.digest, suffix, layer, true)
}

/**
 * A cosign (legacy) attestation at `sha256-<hex>.att`: a DSSE envelope of an in-toto statement.
 * `predicate`: { predicateType?, predicate? } (SLSA provenance v1 by default).
 * Same return shape as signCosign; `payload` is the envelope and `statement` the signed bytes.
 */
export async function attestCosign(registry, repository, subject, key, predicate = {}) {
  const predicateType = predicate.predicateType ?? SLSA_V1
  const body = Buffer.from(
    JSON.stringify(
      statement(
        subject.digest,
        predicateType,
        predicate.predicate ?? {
          buildDefinition: { buildType: 'https://example.test/build/v1', externalParameters: {} },
          runDetails: { builder: { id: 'https://example.test/builder' } }
        },
        `${registry.host}/${repository}`
      )
    )
  )
  const envelope = Buffer.from(
    JSON.stringify({
      payloadType: MEDIA.inToto,
      payload: body.toString('base64'),
      signatures: [{ keyid: '', sig: signBytes(key, pae(MEDIA.inToto, body)).toString('base64') }]
    })
  )
  const layer = {
    mediaType: MEDIA.dsse,
    bytes: envelope,
    annotations: { predicateType, [COSIGN_SIGNATURE]: '' }
  }
  const written = await writeDigestTag(registry, repository, subject.digest, 'att', layer, true)
  return { ...written, statement: body }
}

/** `cosign attach sbom`: an unsigned SPDX document at `sha256-<hex>.sbom` (replaces the tag). */
export async function attachSbomCosign(registry, repository, subject, sbomJson = spdxDocument(subject)) {
  const bytes = Buffer.from(typeof sbomJson === 'string' ? sbomJson : JSON.stringify(sbomJson))
  const layer = { mediaType: MEDIA.cosignSpdx, bytes }
  return writeDigestTag(registry, repository, subject.digest, 'sbom', layer, false)
}

/** A small SPDX 2.3 document naming the subject. */
export function spdxDocument(subject) {
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `sbom-of-${subject.digest}`,
    documentNamespace: `https://example.test/spdx/${subject.digest.slice(7, 19)}-${randomBytes(4).toString('hex')}`,
    creationInfo: { created: '2026-01-01T00:00:00Z', creators: ['Tool: ecr-promote-fixtures'] },
    packages: [
      {
        name: 'busybox',
        SPDXID: 'SPDXRef-Package-busybox',
        versionInfo: '1.36.1',
        downloadLocation: 'NOASSERTION'
      }
    ]
  }
}

const EMPTY = blobOf('{}')

/**
 * An OCI 1.1 referrer of `subject` ({ digest, mediaType, size }): blobs, then the manifest by
 * digest, then (when `fallback` is true) a read-modify-write of the fallback index
 * `sha256-<hex>`, as a writer does at a registry without the referrers API. `fallback: 'auto'`
 * skips it when the registry answered the PUT with `OCI-Subject` (as the spec asks clients).
 * `config`: { mediaType, bytes } instead of the empty config (then artifactType may be omitted).
 * @returns {Promise<{ digest: string, mediaType: string, size: number, bytes: Buffer, artifactType?: string, annotations?: object, fallbackUpdated: boolean }>}
 */
export async function pushReferrer(registry, repository, subject, options) {
  const { artifactType, layers = [], annotations, config, fallback = true } = options
  const configBlob = config ? blobOf(config.bytes) : EMPTY
  const blobs = layers.map((l) => ({ ...l, blob: blobOf(l.bytes) }))
  for (const b of [configBlob, ...blobs.map((l) => l.blob)]) await pushBlob(registry, repository, b)
  const manifest = manifestOf({
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    ...(artifactType ? { artifactType } : {}),
    config: { mediaType: config?.mediaType ?? MEDIA.empty, digest: configBlob.digest, size: configBlob.size },
    layers: blobs.map((l) => ({
      mediaType: l.mediaType,
      digest: l.blob.digest,
      size: l.blob.size,
      ...(l.annotations ? { annotations: l.annotations } : {})
    })),
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(annotations ? { annotations } : {})
  })
  const put = await putManifest(registry, repository, manifest.digest, manifest)
  const descriptor = {
    mediaType: manifest.mediaType,
    digest: manifest.digest,
    size: manifest.bytes.length,
    artifactType: artifactType ?? config?.mediaType ?? MEDIA.empty,
    ...(annotations ? { annotations } : {})
  }
  const announced = put.headers['oci-subject'] === subject.digest
  const fallbackUpdated = fallback === true || (fallback === 'auto' && !announced)
  if (fallbackUpdated) await addToFallbackIndex(registry, repository, subject.digest, descriptor)
  return { ...descriptor, bytes: manifest.bytes, fallbackUpdated }
}

/** Appends `descriptor` to the fallback index of `digest` (creates it on 404, keeps other entries). */
export async function addToFallbackIndex(registry, repository, digest, descriptor) {
  const tag = fallbackTag(digest)
  const current = await fetchManifest(registry, repository, tag)
  if (current && (current.json.mediaType ?? current.mediaType) !== MEDIA.index)
    throw new Error(`fallback tag ${tag} is not an image index (${current.mediaType})`)
  const manifests = (current?.json.manifests ?? []).filter((d) => d.digest !== descriptor.digest)
  const index = manifestOf({
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [...manifests, descriptor]
  })
  await putManifest(registry, repository, tag, index)
  return index
}

/** The public key's hint as carried in a bundle: base64 SHA-256 of its SPKI DER. */
export function keyHint(publicKey) {
  const der = createPublicKey(publicKey).export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(der).digest('base64')
}

/**
 * A sigstore bundle v0.3 (JSON object) whose DSSE envelope signs an in-toto statement about
 * `digest`, made by @sigstore/sign with a key signer and no witnesses (no tlog, no timestamps).
 */
export async function makeBundle(digest, key, { predicateType = COSIGN_SIGN_V1, predicate = {} } = {}) {
  const publicKeyPem =
    key.publicKeyPem ?? createPublicKey(privateKeyOf(key)).export({ type: 'spki', format: 'pem' })
  const signer = {
    sign: async (data) => ({
      signature: signBytes(key, data),
      key: { $case: 'publicKey', publicKey: publicKeyPem, hint: keyHint(publicKeyPem) }
    })
  }
  const body = Buffer.from(JSON.stringify(statement(digest, predicateType, predicate)))
  const bundle = await new DSSEBundleBuilder({ signer, witnesses: [] }).create({
    data: body,
    type: MEDIA.inToto
  })
  return bundleToJSON(bundle)
}

/**
 * cosign v3's new-format signature: a bundle referrer of `subject`. `opts`: { predicateType?,
 * predicate?, fallback?, bundle? } (`bundle`: a JSON object to push instead, e.g. a tampered one).
 */
export async function bundleReferrer(registry, repository, subject, key, opts = {}) {
  const predicateType = opts.predicateType ?? COSIGN_SIGN_V1
  const bundle = opts.bundle ?? (await makeBundle(subject.digest, key, { ...opts, predicateType }))
  return pushReferrer(registry, repository, subject, {
    artifactType: MEDIA.bundle,
    layers: [{ mediaType: MEDIA.bundle, bytes: Buffer.from(JSON.stringify(bundle)) }],
    annotations: {
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': predicateType,
      'org.opencontainers.image.created': new Date().toISOString()
    },
    fallback: opts.fallback
  })
}

/** A Notation signature referrer, structurally exact (the JWS and certificate are fake). */
export async function notationReferrer(registry, repository, subject, { fallback } = {}) {
  const b64url = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const certificate = randomBytes(420)
  const jws = {
    payload: b64url({
      targetArtifact: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size }
    }),
    protected: b64url({
      alg: 'ES256',
      crit: ['io.cncf.notary.signingScheme'],
      cty: 'application/vnd.cncf.notary.payload.v1+json',
      'io.cncf.notary.signingScheme': 'notary.x509',
      'io.cncf.notary.signingTime': '2026-01-01T00:00:00Z'
    }),
    header: { x5c: [certificate.toString('base64')], 'io.cncf.notary.signingAgent': 'notation-go/1.3.0' },
    signature: randomBytes(64).toString('base64url')
  }
  return pushReferrer(registry, repository, subject, {
    artifactType: MEDIA.notation,
    layers: [{ mediaType: MEDIA.jws, bytes: Buffer.from(JSON.stringify(jws)) }],
    annotations: {
      'io.cncf.notary.x509chain.thumbprint#S256': JSON.stringify([
        createHash('sha256').update(certificate).digest('hex')
      ])
    },
    fallback
  })
}

/** An SBOM referrer (artifactType application/spdx+json, one SPDX JSON layer). */
export async function sbomReferrer(registry, repository, subject, { fallback, document } = {}) {
  return pushReferrer(registry, repository, subject, {
    artifactType: MEDIA.spdx,
    layers: [
      { mediaType: MEDIA.spdx, bytes: Buffer.from(JSON.stringify(document ?? spdxDocument(subject))) }
    ],
    annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
    fallback
  })
}
