// Self-check of trust-fixtures.mjs, trust-verify.mjs and referrers-front.mjs against real registries:
//   node scripts/lib/trust-fixtures.selfcheck.mjs
import assert from 'node:assert/strict'
import { request } from 'undici'
import { getManifestBytes, headDigest, seedImage } from './images.mjs'
import { startReferrersFront } from './referrers-front.mjs'
import { startRegistry } from './registries.mjs'
import {
  COSIGN_SIGNATURE,
  MEDIA,
  attachSbomCosign,
  attestCosign,
  bundleReferrer,
  fallbackTag,
  fetchBlob,
  fetchManifest,
  generateKeyPair,
  makeBundle,
  notationReferrer,
  pushReferrer,
  putManifest,
  sbomReferrer,
  signCosign
} from './trust-fixtures.mjs'
import {
  listReferrersAt,
  verifyBundleReferrers,
  verifyCosignAttestations,
  verifyCosignSignatures
} from './trust-verify.mjs'

const asSubject = (m) => ({ digest: m.digest, mediaType: m.mediaType, size: m.bytes.length })
const key = generateKeyPair()
const other = generateKeyPair()

async function fixturesAt(registry, label) {
  const repo = 'team/app'
  const image = await seedImage(registry, repo, 'v1', { platforms: ['linux/amd64', 'linux/arm64'] })
  const root = asSubject(image)
  const child = asSubject(image.manifests[0])

  // cosign legacy tags: two signatures (append), an attestation, an SBOM, a signature of a child.
  const first = await signCosign(registry, repo, root, key)
  assert.equal(first.tag, `${fallbackTag(root.digest)}.sig`)
  const second = await signCosign(registry, repo, root, other)
  assert.equal(JSON.parse(second.manifest.bytes).layers.length, 2, 'second signature appended')
  const config = await fetchManifest(registry, repo, second.tag)
  assert.equal(config.digest, second.digest)
  assert.equal(await verifyCosignSignatures(registry, repo, root.digest, key.publicKey), 1)
  assert.equal(await verifyCosignSignatures(registry, repo, root.digest, other.publicKeyPem), 1)
  assert.equal(await verifyCosignSignatures(registry, repo, root.digest, generateKeyPair().publicKey), 0)
  assert.equal(await verifyCosignSignatures(registry, repo, child.digest, key.publicKey), 0, 'no tag: 0')
  await signCosign(registry, repo, child, key)
  assert.equal(await verifyCosignSignatures(registry, repo, child.digest, key.publicKey), 1)
  // Replayed (the child's valid signature listed under the root's tag) or forged layers do not verify.
  const rootSig = JSON.parse(second.manifest.bytes)
  const childLayer = JSON.parse(
    (await fetchManifest(registry, repo, `${fallbackTag(child.digest)}.sig`)).bytes
  ).layers[0]
  const forged = {
    ...rootSig.layers[0],
    annotations: { [COSIGN_SIGNATURE]: childLayer.annotations[COSIGN_SIGNATURE] }
  }
  const replayed = { ...rootSig, layers: [...rootSig.layers, childLayer, forged] }
  await putManifest(registry, repo, second.tag, {
    mediaType: MEDIA.manifest,
    bytes: Buffer.from(JSON.stringify(replayed))
  })
  assert.equal(
    await verifyCosignSignatures(registry, repo, root.digest, key.publicKey),
    1,
    'replay/forgery rejected'
  )
  assert.equal(await verifyCosignSignatures(registry, repo, child.digest, key.publicKey), 1)

  const att = await attestCosign(registry, repo, root, key)
  assert.equal(await verifyCosignAttestations(registry, repo, root.digest, key.publicKey), 1)
  assert.equal(await verifyCosignAttestations(registry, repo, root.digest, other.publicKey), 0)
  const sbomTag = await attachSbomCosign(registry, repo, root)
  assert.equal(JSON.parse(sbomTag.manifest.bytes).layers[0].mediaType, 'text/spdx+json')
  // The SBOM manifest signed in its own right (recursion over digest tags).
  await signCosign(registry, repo, { digest: sbomTag.digest }, key)
  assert.equal(await verifyCosignSignatures(registry, repo, sbomTag.digest, key.publicKey), 1)

  // OCI 1.1 referrers with the fallback tag (distribution 2.8 has no API).
  const sbom = await sbomReferrer(registry, repo, root)
  const bundle = await bundleReferrer(registry, repo, root, key)
  const notation = await notationReferrer(registry, repo, child)
  const sbomSig = await bundleReferrer(registry, repo, sbom, key) // a referrer of a referrer
  for (const r of [sbom, bundle, notation, sbomSig]) {
    const stored = await getManifestBytes(registry, repo, r.digest)
    assert.equal(stored.digest, r.digest, 'referrer stored byte for byte')
  }
  const listed = await listReferrersAt(registry, repo, root.digest)
  assert.deepEqual(
    listed.map((d) => d.digest),
    [sbom.digest, bundle.digest]
  )
  assert.equal(listed[1].annotations['dev.sigstore.bundle.content'], 'dsse-envelope')
  assert.equal(listed[1].artifactType, MEDIA.bundle)
  assert.deepEqual(await listReferrersAt(registry, repo, root.digest, { via: 'api' }), [], 'no API at 2.8')
  assert.equal((await listReferrersAt(registry, repo, child.digest))[0].artifactType, MEDIA.notation)
  // Notation 1.0 form: no artifactType, the config's media type says what it is.
  const legacy = await pushReferrer(registry, repo, child, {
    config: { mediaType: MEDIA.notation, bytes: Buffer.from('{}') },
    layers: [{ mediaType: MEDIA.jws, bytes: Buffer.from('{"payload":""}') }],
    annotations: { 'io.cncf.notary.x509chain.thumbprint#S256': '["00"]' }
  })
  const childReferrers = await listReferrersAt(registry, repo, child.digest)
  assert.deepEqual(
    childReferrers.map((d) => [d.digest, d.artifactType]),
    [
      [notation.digest, MEDIA.notation],
      [legacy.digest, MEDIA.notation]
    ]
  )
  assert.equal(JSON.parse(legacy.bytes).artifactType, undefined)
  const bundleJson = JSON.parse(await fetchBlob(registry, repo, JSON.parse(bundle.bytes).layers[0].digest))
  assert.equal(bundleJson.mediaType, MEDIA.bundle)
  assert.ok(bundleJson.verificationMaterial.publicKey.hint)
  assert.equal(await verifyBundleReferrers(registry, repo, root.digest, key.publicKeyPem), 1)
  assert.equal(await verifyBundleReferrers(registry, repo, root.digest, other.publicKeyPem), 0)
  assert.equal(await verifyBundleReferrers(registry, repo, sbom.digest, key.publicKeyPem), 1)

  // A tampered bundle (statement changed after signing) is listed but does not verify.
  const good = await makeBundle(root.digest, key)
  const statement = JSON.parse(Buffer.from(good.dsseEnvelope.payload, 'base64'))
  statement.predicate = { tampered: true }
  const tampered = {
    ...good,
    dsseEnvelope: { ...good.dsseEnvelope, payload: Buffer.from(JSON.stringify(statement)).toString('base64') }
  }
  await bundleReferrer(registry, repo, root, key, { bundle: tampered })
  assert.equal((await listReferrersAt(registry, repo, root.digest)).length, 3)
  assert.equal(
    await verifyBundleReferrers(registry, repo, root.digest, key.publicKeyPem),
    1,
    'tampered rejected'
  )
  // A bundle signed for another digest, attached to root, does not verify for root.
  await bundleReferrer(registry, repo, root, key, { bundle: await makeBundle(child.digest, key) })
  assert.equal(
    await verifyBundleReferrers(registry, repo, root.digest, key.publicKeyPem),
    1,
    'wrong subject rejected'
  )
  console.log(`  ${label}: cosign tags, referrers, verification, tamper rejection ok (${att.tag})`)
}

async function frontChecks(registry, label) {
  const repo = 'front/app'
  const front = await startReferrersFront(registry, { mode: 'api', pageSize: 2 })
  try {
    const image = await seedImage(front, repo, 'v1', { platforms: ['linux/amd64', 'linux/arm64'] })
    const root = asSubject(image)
    const anon = await request(`${front.url}/v2/${repo}/referrers/${root.digest}`)
    const anonText = await anon.body.text()
    if (registry.auth === 'token') {
      assert.equal(anon.statusCode, 401, 'auth relayed')
      assert.match(String(anon.headers['www-authenticate']), /^Bearer /)
    } else assert.equal(anon.statusCode, 200, anonText)
    assert.deepEqual(
      await listReferrersAt(front, repo, root.digest, { via: 'api' }),
      [],
      'empty list, not 404'
    )

    const made = []
    for (let i = 0; i < 3; i++) made.push(await sbomReferrer(front, repo, root, { fallback: 'auto' }))
    made.push(await bundleReferrer(front, repo, root, key, { fallback: 'auto' }))
    assert.equal(made[0].fallbackUpdated, false, 'OCI-Subject seen: no fallback write')
    assert.equal(await headDigest(registry, repo, fallbackTag(root.digest)), undefined)
    const viaApi = await listReferrersAt(front, repo, root.digest, { via: 'api' })
    assert.deepEqual(
      viaApi.map((d) => d.digest),
      made.map((d) => d.digest),
      'all pages'
    )
    assert.deepEqual(front.referrersOf(repo, root.digest), viaApi)
    assert.equal(await verifyBundleReferrers(front, repo, root.digest, key.publicKeyPem), 1)
    assert.deepEqual(await listReferrersAt(registry, repo, root.digest), [], 'no fallback at the registry')

    // One page by hand: Link header, filter header.
    const auth = await front.authHeader(repo)
    const headers = auth ? { authorization: auth } : {}
    const page = await request(`${front.url}/v2/${repo}/referrers/${root.digest}`, { headers })
    assert.equal(page.headers['content-type'], MEDIA.index)
    assert.match(
      String(page.headers.link),
      /^<\/v2\/front\/app\/referrers\/sha256:[0-9a-f]{64}\?n=2&last=sha256%3A[0-9a-f]{64}>; rel="next"$/
    )
    assert.equal(JSON.parse(await page.body.text()).manifests.length, 2)
    const bundles = await request(
      `${front.url}/v2/${repo}/referrers/${root.digest}?artifactType=${encodeURIComponent(MEDIA.bundle)}`,
      { headers }
    )
    assert.equal(bundles.headers['oci-filters-applied'], 'artifactType')
    assert.equal(JSON.parse(await bundles.body.text()).manifests.length, 1)
    const missing = await request(`${front.url}/v2/nothing/here/referrers/${root.digest}`, {
      headers: (await front.authHeader('nothing/here'))
        ? { authorization: await front.authHeader('nothing/here') }
        : {}
    })
    assert.equal(missing.statusCode, 404)
    assert.match(await missing.body.text(), /NAME_UNKNOWN/)

    // Pushed directly to the registry: invisible to the API.
    const direct = await sbomReferrer(registry, repo, asSubject(image.manifests[1]))
    assert.deepEqual(await listReferrersAt(front, repo, image.manifests[1].digest, { via: 'api' }), [])
    assert.deepEqual(
      (await listReferrersAt(registry, repo, image.manifests[1].digest)).map((d) => d.digest),
      [direct.digest]
    )
  } finally {
    await front.stop()
  }

  const announcer = await startReferrersFront(registry, { mode: 'announce-only' })
  try {
    const image = await seedImage(announcer, 'announce/app', 'v1')
    const root = asSubject(image)
    const written = await sbomReferrer(announcer, 'announce/app', root, { fallback: 'auto' })
    assert.equal(written.fallbackUpdated, false, 'OCI-Subject sent')
    assert.deepEqual(
      announcer.referrersOf('announce/app', root.digest).map((d) => d.digest),
      [written.digest]
    )
    const res = await request(`${announcer.url}/v2/announce/app/referrers/${root.digest}`)
    assert.equal(res.statusCode, 404)
    assert.equal(await res.body.text(), '404 page not found\n')
    assert.match(String(res.headers['content-type']), /^text\/plain/)
    assert.deepEqual(
      await listReferrersAt(announcer, 'announce/app', root.digest),
      [],
      'trusting OCI-Subject loses it'
    )
    const honest = await sbomReferrer(announcer, 'announce/app', root) // fallback: true
    assert.deepEqual(
      (await listReferrersAt(announcer, 'announce/app', root.digest)).map((d) => d.digest),
      [honest.digest]
    )
  } finally {
    await announcer.stop()
  }
  console.log(`  ${label}: referrers front (api, paging, filter, NAME_UNKNOWN, announce-only) ok`)
}

const registries = [await startRegistry({ auth: 'none' }), await startRegistry({ auth: 'token' })]
try {
  for (const registry of registries) {
    await fixturesAt(registry, registry.auth)
    await frontChecks(registry, registry.auth)
  }
} finally {
  for (const registry of registries) await registry.stop()
}
console.log('OK')
