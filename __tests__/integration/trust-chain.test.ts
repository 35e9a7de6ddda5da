// The trust chain travels: signatures, attestations and SBOMs that refer to an image are promoted with
// it between real docker-registry processes (no referrers API: fallback tags) and through fronts that
// answer with the OCI 1.1 referrers API as ECR does, or announce OCI-Subject without one (Docker Hub in
// 2024, ECR before 2024-06). Every signature is verified at the destination with the public key.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { USERS, startRegistry } from '../../scripts/lib/registries.mjs'
import { getManifestBytes, headDigest, seedImage } from '../../scripts/lib/images.mjs'
import { startForwarder } from '../../scripts/lib/proxy.mjs'
import { startReferrersFront } from '../../scripts/lib/referrers-front.mjs'
import {
  attachSbomCosign,
  attestCosign,
  bundleReferrer,
  digestTag,
  fallbackTag,
  generateKeyPair,
  notationReferrer,
  pushReferrer,
  putManifest,
  sbomReferrer,
  signCosign
} from '../../scripts/lib/trust-fixtures.mjs'
import {
  listReferrersAt,
  verifyBundleReferrers,
  verifyCosignAttestations,
  verifyCosignSignatures
} from '../../scripts/lib/trust-verify.mjs'
import { answerError, closeUpstreamAgent, failure, manifestPath, run } from '../support/fronts.js'

type Registry = Awaited<ReturnType<typeof startRegistry>>
type Keys = ReturnType<typeof generateKeyPair>
type Stoppable = { stop: () => Promise<void> }
type Target = { host: string; url: string; authHeader: Registry['authHeader']; dispatcher?: unknown }

const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json'
const NOTATION = 'application/vnd.cncf.notary.signature'
const SPDX = 'application/spdx+json'

let source: Registry
let destination: Registry
let key: Keys
const stoppers: Stoppable[] = []

beforeAll(async () => {
  ;[source, destination] = await Promise.all([
    startRegistry({ auth: 'token', name: 'trust-src' }),
    startRegistry({ auth: 'none', name: 'trust-dst' })
  ])
  key = generateKeyPair()
})

afterAll(async () => {
  for (const s of stoppers.reverse()) await s.stop()
  await Promise.all([source?.stop(), destination?.stop()])
  await closeUpstreamAgent()
})

async function front<T extends Stoppable>(started: Promise<T>): Promise<T> {
  const f = await started
  stoppers.push(f)
  return f
}

const subjectOf = (m: { digest: string; mediaType: string; bytes: Buffer }) => ({
  digest: m.digest,
  mediaType: m.mediaType,
  size: m.bytes.length
})

let counter = 0
const fresh = (name: string) => `${name}/t${++counter}`

function sourceInputs(host: string, repo: string) {
  return {
    source: `${host}/${repo}:v1`,
    'source-username': 'reader',
    'source-password': USERS.reader.password
  }
}

/**
 * A two-platform image signed every way there is: a cosign signature, attestation and SBOM tag on the
 * index; a Sigstore bundle and a Notation signature as referrers of the index; an SBOM referrer per
 * platform; a cosign signature of the first SBOM referrer and a bundle on the second (depth 2).
 */
async function signedImage(registry: Target, repo: string, fallback: boolean | 'auto' = true) {
  const image = await seedImage(registry, repo, 'v1', { platforms: ['linux/amd64', 'linux/arm64'] })
  const root = subjectOf(image)
  const sig = await signCosign(registry, repo, root, key)
  const att = await attestCosign(registry, repo, root, key)
  const sbomTag = await attachSbomCosign(registry, repo, root)
  const bundle = await bundleReferrer(registry, repo, root, key, { fallback })
  const notation = await notationReferrer(registry, repo, root, { fallback })
  const sboms = []
  for (const child of image.manifests)
    sboms.push(await sbomReferrer(registry, repo, subjectOf(child), { fallback }))
  const sbomSig = await signCosign(registry, repo, { digest: sboms[0].digest }, key)
  const sbomBundle = await bundleReferrer(
    registry,
    repo,
    { digest: sboms[1].digest, mediaType: sboms[1].mediaType, size: sboms[1].size },
    key,
    { fallback }
  )
  return { image, sig, att, sbomTag, bundle, notation, sboms, sbomSig, sbomBundle }
}

type Signed = Awaited<ReturnType<typeof signedImage>>

/** Everything that must verify at the destination, as cosign, Notation and a policy would look. */
async function expectTrustChain(at: Target, repo: string, s: Signed) {
  const { image } = s
  expect(await headDigest(at, repo, 'v1')).toBe(image.digest)
  expect(await verifyCosignSignatures(at, repo, image.digest, key.publicKey)).toBe(1)
  expect(await verifyCosignAttestations(at, repo, image.digest, key.publicKey)).toBe(1)
  expect(await headDigest(at, repo, digestTag(image.digest, 'sbom'))).toBe(s.sbomTag.digest)
  expect(await verifyBundleReferrers(at, repo, image.digest, key.publicKeyPem)).toBe(1)
  const onRoot = await listReferrersAt(at, repo, image.digest)
  expect(onRoot.map((d: { digest: string }) => d.digest).sort()).toEqual(
    [s.bundle.digest, s.notation.digest].sort()
  )
  expect(onRoot.find((d: { digest: string }) => d.digest === s.notation.digest)).toMatchObject({
    artifactType: NOTATION,
    annotations: { 'io.cncf.notary.x509chain.thumbprint#S256': expect.any(String) }
  })
  for (const [i, child] of image.manifests.entries()) {
    const listed = await listReferrersAt(at, repo, child.digest)
    expect(listed).toEqual([expect.objectContaining({ digest: s.sboms[i].digest, artifactType: SPDX })])
    expect(await headDigest(at, repo, s.sboms[i].digest)).toBe(s.sboms[i].digest)
  }
  // Depth 2: a signature of an SBOM, a bundle on an SBOM.
  expect(await verifyCosignSignatures(at, repo, s.sboms[0].digest, key.publicKey)).toBe(1)
  expect(await verifyBundleReferrers(at, repo, s.sboms[1].digest, key.publicKeyPem)).toBe(1)
}

describe('to a registry without the referrers API (fallback tags)', () => {
  let signed: Signed
  const srcRepo = 'signed/app'
  beforeAll(async () => {
    signed = await signedImage(source, srcRepo)
  })

  test('every signature, attestation and SBOM lands before the user tag, and verifies', async () => {
    const repo = fresh('dst')
    const watch = await front(startForwarder(destination.url))
    const result = await run({
      ...sourceInputs(source.host, srcRepo),
      destination: `${watch.host}/${repo}:v1`
    })
    expect(result.result).toBe('copied')
    await expectTrustChain(destination, repo, signed)
    // The output: everything at the destination, by digest, with its subject.
    const kinds = result.referrers.map((r) => `${r.kind} ${r.artifactType} ${r.state}`)
    expect(kinds).toHaveLength(9)
    expect(result.referrers.every((r) => r.state === 'copied')).toBe(true)
    expect(result.referrers).toContainEqual(
      expect.objectContaining({
        digest: signed.bundle.digest,
        subject: signed.image.digest,
        artifactType: BUNDLE
      })
    )
    expect(result.referrers).toContainEqual(
      expect.objectContaining({
        kind: 'digest-tag',
        tag: digestTag(signed.image.digest, 'sig'),
        digest: signed.sig.digest
      })
    )
    // Order, from what the registry was sent: the user tag after every other manifest, each referrer
    // after its subject, the fallback index after its entries.
    const puts = watch.seen
      .filter((r: { method: string; url: string }) => r.method === 'PUT' && manifestPath(r.url))
      .map((r: { url: string }) => manifestPath(r.url)!.reference)
    expect(puts[puts.length - 1]).toBe('v1')
    const at = (ref: string) => puts.indexOf(ref)
    expect(at(signed.image.digest)).toBeGreaterThan(-1)
    for (const child of signed.image.manifests) expect(at(child.digest)).toBeLessThan(at(signed.image.digest))
    expect(at(signed.bundle.digest)).toBeGreaterThan(at(signed.image.digest))
    expect(at(fallbackTag(signed.image.digest))).toBeGreaterThan(at(signed.bundle.digest))
    expect(at(signed.sbomBundle.digest)).toBeGreaterThan(at(signed.sboms[1].digest))
    // A digest tag needs only its subject: the root's after the root, the SBOM's after the SBOM.
    expect(at(digestTag(signed.image.digest, 'sig'))).toBeGreaterThan(at(signed.image.digest))
    expect(at(digestTag(signed.sboms[0].digest, 'sig'))).toBeGreaterThan(at(signed.sboms[0].digest))
    expect(
      result.log.some((l) =>
        /referrer sha256:\S+ \(application\/vnd\.cncf\.notary\.signature\) of sha256:\S+: copied/.test(l)
      )
    ).toBe(true)
  })

  test('a re-run is unchanged; a signature added at the source is carried by the next run, tags untouched', async () => {
    const repo = fresh('dst')
    const values = { ...sourceInputs(source.host, srcRepo), destination: `${destination.host}/${repo}:v1` }
    await run(values)
    const again = await run(values)
    expect(again.result).toBe('unchanged')
    expect(again.referrers.every((r) => r.state === 'present')).toBe(true)
    expect(again.copy).toBeUndefined()

    const second = generateKeyPair()
    const repoOnly = 'signed/resign'
    const image = await seedImage(source, repoOnly, 'v1', { platforms: ['linux/amd64'] })
    await signCosign(source, repoOnly, subjectOf(image), key)
    const values2 = {
      ...sourceInputs(source.host, repoOnly),
      destination: `${destination.host}/${repo}-b:v1`
    }
    await run(values2)
    await signCosign(source, repoOnly, subjectOf(image), second)
    await bundleReferrer(source, repoOnly, subjectOf(image), second)
    const nightly = await run(values2)
    expect(nightly.result).toBe('copied')
    expect(nightly.tagOutcomes.map((t) => t.outcome)).toEqual(['unchanged'])
    expect(await verifyCosignSignatures(destination, `${repo}-b`, image.digest, key.publicKey)).toBe(1)
    expect(await verifyCosignSignatures(destination, `${repo}-b`, image.digest, second.publicKey)).toBe(1)
    expect(await verifyBundleReferrers(destination, `${repo}-b`, image.digest, second.publicKeyPem)).toBe(1)
    expect((await run(values2)).result).toBe('unchanged')
  })

  test("the destination's own referrers and signatures are kept: the index is merged, the .sig unioned", async () => {
    const repo = fresh('dst')
    const other = generateKeyPair()
    // The destination already holds the image, a foreign referrer and a signature by another key.
    await run({
      ...sourceInputs(source.host, srcRepo),
      destination: `${destination.host}/${repo}:v1`,
      referrers: 'false'
    })
    const root = subjectOf(signed.image)
    const foreign = await pushReferrer(destination, repo, root, {
      artifactType: 'application/vnd.example.scan+json',
      layers: [{ mediaType: 'application/json', bytes: Buffer.from('{"scanner":"other"}') }],
      annotations: { 'org.example/by': 'another tool' }
    })
    await signCosign(destination, repo, root, other)
    const result = await run({
      ...sourceInputs(source.host, srcRepo),
      destination: `${destination.host}/${repo}:v1`
    })
    expect(result.result).toBe('copied')
    const listed = await listReferrersAt(destination, repo, signed.image.digest)
    expect(listed.map((d: { digest: string }) => d.digest)).toEqual([
      foreign.digest,
      signed.bundle.digest,
      signed.notation.digest
    ])
    expect(listed[0]).toMatchObject({
      artifactType: 'application/vnd.example.scan+json',
      annotations: { 'org.example/by': 'another tool' }
    })
    expect(await verifyCosignSignatures(destination, repo, signed.image.digest, other.publicKey)).toBe(1)
    expect(await verifyCosignSignatures(destination, repo, signed.image.digest, key.publicKey)).toBe(1)
    expect(result.log.some((l) => l.includes('merged with the signatures already there'))).toBe(true)
    expect(
      (await run({ ...sourceInputs(source.host, srcRepo), destination: `${destination.host}/${repo}:v1` }))
        .result
    ).toBe('unchanged')
  })

  test('referrers: false copies none of them', async () => {
    const repo = fresh('dst')
    const result = await run({
      ...sourceInputs(source.host, srcRepo),
      destination: `${destination.host}/${repo}:v1`,
      referrers: 'false'
    })
    expect(result.result).toBe('copied')
    expect(result.referrers).toEqual([])
    expect(await headDigest(destination, repo, digestTag(signed.image.digest, 'sig'))).toBeUndefined()
    expect(await listReferrersAt(destination, repo, signed.image.digest)).toEqual([])
  })

  test('a dry run lists what it would copy and writes nothing', async () => {
    const repo = fresh('dst')
    const result = await run({
      ...sourceInputs(source.host, srcRepo),
      destination: `${destination.host}/${repo}:v1`,
      'dry-run': 'true'
    })
    expect(result.result).toBe('copied')
    expect(result.referrers).toHaveLength(9)
    expect(result.referrers.every((r) => r.state === 'would-copy')).toBe(true)
    expect(result.log.filter((l) => /: would copy$/.test(l))).toHaveLength(9)
    expect(await headDigest(destination, repo, 'v1')).toBeUndefined()
    expect(await headDigest(destination, repo, signed.bundle.digest)).toBeUndefined()
    expect(await headDigest(destination, repo, fallbackTag(signed.image.digest))).toBeUndefined()
  })

  test('if-exists: skip with a conflicting tag copies nothing, referrers included', async () => {
    const repo = fresh('dst')
    await seedImage(destination, repo, 'v1', { platforms: ['linux/amd64'], seed: 'something else' })
    const result = await run({
      ...sourceInputs(source.host, srcRepo),
      destination: `${destination.host}/${repo}:v1`,
      'if-exists': 'skip'
    })
    expect(result.result).toBe('skipped')
    expect(result.referrers).toEqual([])
    expect(await headDigest(destination, repo, signed.bundle.digest)).toBeUndefined()
    expect(await headDigest(destination, repo, digestTag(signed.image.digest, 'sig'))).toBeUndefined()
  })

  test('an immutable .sig tag is reported as such, and no user tag is written', async () => {
    const repo = fresh('dst')
    const sigTag = digestTag(signed.image.digest, 'sig')
    await run({
      ...sourceInputs(source.host, srcRepo),
      destination: `${destination.host}/${repo}:v0`,
      referrers: 'false'
    })
    await signCosign(destination, repo, subjectOf(signed.image), generateKeyPair())
    // As ECR with IMMUTABLE tags answers a PUT to a tag that exists.
    const strict = await front(
      startForwarder(destination.url, (req, res) => {
        if (req.method !== 'PUT' || manifestPath(req.url)?.reference !== sigTag) return false
        answerError(
          req,
          res,
          400,
          'TAG_INVALID',
          `The image tag '${sigTag}' already exists and cannot be overwritten because the repository is immutable.`
        )
        return true
      })
    )
    const { message } = await failure({
      ...sourceInputs(source.host, srcRepo),
      destination: `${strict.host}/${repo}:v1`
    })
    expect(message).toContain(`tag ${sigTag}`)
    expect(message).toMatch(/immutable/)
    expect(message).toContain('no tag was written')
    expect(await headDigest(destination, repo, 'v1')).toBeUndefined()
  })

  test('a referrer that cannot be copied fails the promotion, naming it and its subject, before any tag', async () => {
    const repo = fresh('dst')
    const refusing = await front(
      startForwarder(destination.url, (req, res) => {
        if (req.method !== 'PUT' || manifestPath(req.url)?.reference !== signed.notation.digest) return false
        answerError(req, res, 400, 'MANIFEST_INVALID', 'manifest invalid: unsupported artifact')
        return true
      })
    )
    const { message } = await failure({
      ...sourceInputs(source.host, srcRepo),
      destination: `${refusing.host}/${repo}:v1`
    })
    expect(message).toContain(`referrer ${signed.notation.digest} (${NOTATION}) of ${signed.image.digest}`)
    expect(message).toContain('unsupported artifact')
    expect(message).toContain('no tag was written')
    expect(await headDigest(destination, repo, 'v1')).toBeUndefined()
  })

  test('a fallback tag that holds an image (cosign copy) is not a referrers index: ignored, said so', async () => {
    const repo = 'signed/odd'
    const image = await seedImage(source, repo, 'v1', { platforms: ['linux/amd64'] })
    const other = await seedImage(source, repo, 'other', { platforms: ['linux/amd64'], seed: 'other' })
    await putManifest(source, repo, fallbackTag(image.digest), other)
    const result = await run({
      ...sourceInputs(source.host, repo),
      destination: `${destination.host}/${fresh('dst')}:v1`
    })
    expect(result.result).toBe('copied')
    expect(result.referrers).toEqual([])
    expect(
      result.log.some(
        (l) => l.includes(`tag ${fallbackTag(image.digest)} holds`) && l.includes('not a referrers index')
      )
    ).toBe(true)
  })

  test('a fallback index entry whose manifest does not name the subject is not copied', async () => {
    const repo = 'signed/liar'
    const image = await seedImage(source, repo, 'v1', { platforms: ['linux/amd64'] })
    const elsewhere = await seedImage(source, repo, 'x', { platforms: ['linux/amd64'], seed: 'elsewhere' })
    const honest = await sbomReferrer(source, repo, subjectOf(elsewhere), { fallback: false })
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: honest.mediaType, digest: honest.digest, size: honest.size, artifactType: SPDX }
      ]
    }
    const bytes = Buffer.from(JSON.stringify(index))
    await putManifest(source, repo, fallbackTag(image.digest), { mediaType: index.mediaType, bytes })
    const result = await run({
      ...sourceInputs(source.host, repo),
      destination: `${destination.host}/${fresh('dst')}:v1`
    })
    expect(result.referrers).toEqual([])
    expect(
      result.log.some((l) =>
        l.includes(`${honest.digest} is listed as a referrer of ${image.digest} but does not name it`)
      )
    ).toBe(true)
  })

  test('referrers of referrers are followed to depth 8 and no further', async () => {
    const repo = 'signed/deep'
    const image = await seedImage(source, repo, 'v1', { platforms: ['linux/amd64'] })
    let subject = subjectOf(image)
    const chain: string[] = []
    for (let i = 0; i < 10; i++) {
      const r = await sbomReferrer(source, repo, subject)
      chain.push(r.digest)
      subject = { digest: r.digest, mediaType: r.mediaType, size: r.size }
    }
    const dst = fresh('dst')
    const result = await run({
      ...sourceInputs(source.host, repo),
      destination: `${destination.host}/${dst}:v1`
    })
    expect(result.referrers.map((r) => r.digest)).toEqual(chain.slice(0, 8))
    expect(await headDigest(destination, dst, chain[7])).toBe(chain[7])
    expect(await headDigest(destination, dst, chain[8])).toBeUndefined()
    expect(result.log.some((l) => l.includes('deeper than 8 levels'))).toBe(true)
  })
})

describe('through registries with the referrers API (as ECR answers)', () => {
  test('found through the API (paged), indexed by the destination itself: no fallback tag written', async () => {
    const srcFront = await front(startReferrersFront(source, { mode: 'api', pageSize: 1 }))
    const dstFront = await front(startReferrersFront(destination, { mode: 'api' }))
    const srcRepo = 'api/app'
    const signed = await signedImage(srcFront, srcRepo, 'auto')
    // Pushed through an API registry, nothing wrote fallback tags at the source.
    expect(await headDigest(source, srcRepo, fallbackTag(signed.image.digest))).toBeUndefined()
    const repo = fresh('api-dst')
    const result = await run({
      ...sourceInputs(srcFront.host, srcRepo),
      destination: `${dstFront.host}/${repo}:v1`
    })
    expect(result.result).toBe('copied')
    await expectTrustChain(dstFront, repo, signed)
    expect(await headDigest(destination, repo, fallbackTag(signed.image.digest))).toBeUndefined()
    const again = await run({
      ...sourceInputs(srcFront.host, srcRepo),
      destination: `${dstFront.host}/${repo}:v1`
    })
    expect(again.result).toBe('unchanged')
  })

  test('a destination that announces OCI-Subject without a working API gets the fallback tag', async () => {
    const srcFront = await front(startReferrersFront(source, { mode: 'api' }))
    const liar = await front(startReferrersFront(destination, { mode: 'announce-only' }))
    const srcRepo = 'api/app2'
    const signed = await signedImage(srcFront, srcRepo, 'auto')
    const repo = fresh('liar-dst')
    const result = await run({
      ...sourceInputs(srcFront.host, srcRepo),
      destination: `${liar.host}/${repo}:v1`
    })
    expect(result.result).toBe('copied')
    // Read as a client without the API reads it: from the fallback tag.
    const index = await getManifestBytes(destination, repo, fallbackTag(signed.image.digest))
    const listed = JSON.parse(index.bytes.toString()).manifests.map((d: { digest: string }) => d.digest)
    expect(listed.sort()).toEqual([signed.bundle.digest, signed.notation.digest].sort())
    await expectTrustChain(destination, repo, signed)
  })
})
