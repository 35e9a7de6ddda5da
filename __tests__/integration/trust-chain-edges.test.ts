// The trust chain where registries misbehave or hold leftovers: a referrer deleted after it was
// indexed, a dangling entry in the destination's index, a throttled referrers API, a referrers URL
// that redirects to a web page (GHCR), a repository that does not exist yet answering NAME_UNKNOWN
// (ECR), a digest tag that is not a signature manifest, and a signature added at the destination
// while the image was copying. Real docker-registry processes behind fronts of the tests' own.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { USERS, startRegistry } from '../../scripts/lib/registries.mjs'
import { getManifestBytes, headDigest, pushBlob, seedImage } from '../../scripts/lib/images.mjs'
import { startForwarder } from '../../scripts/lib/proxy.mjs'
import { startFaultProxy } from '../../scripts/lib/fault-proxy.mjs'
import { startReferrersFront } from '../../scripts/lib/referrers-front.mjs'
import {
  bundleReferrer,
  digestTag,
  fallbackTag,
  generateKeyPair,
  putManifest,
  sbomReferrer,
  sha256,
  signCosign
} from '../../scripts/lib/trust-fixtures.mjs'
import { listReferrersAt, verifyCosignSignatures } from '../../scripts/lib/trust-verify.mjs'
import { answerError, closeUpstreamAgent, manifestPath, run } from '../support/fronts.js'

type Registry = Awaited<ReturnType<typeof startRegistry>>
type Stoppable = { stop: () => Promise<void> }

let source: Registry
let destination: Registry
const key = generateKeyPair()
const stoppers: Stoppable[] = []

beforeAll(async () => {
  ;[source, destination] = await Promise.all([
    startRegistry({ auth: 'token', name: 'edges-src' }),
    startRegistry({ auth: 'none', name: 'edges-dst' })
  ])
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
const from = (host: string, repo: string) => ({
  source: `${host}/${repo}:v1`,
  'source-username': 'reader',
  'source-password': USERS.reader.password
})
let counter = 0
const fresh = () => `edges/d${++counter}`

describe('leftovers', () => {
  test('a referrer deleted after it was indexed at the source is named in a warning, and the rest goes on', async () => {
    const repo = 'edges/deleted'
    const image = await seedImage(source, repo, 'v1', { platforms: ['linux/amd64'] })
    const kept = await bundleReferrer(source, repo, subjectOf(image), key)
    const gone = `sha256:${'d'.repeat(64)}`
    // The index still lists a manifest deleted since (distribution would not store it so any more:
    // served by a front, as a registry that kept it would).
    const index = JSON.parse(
      (await getManifestBytes(source, repo, fallbackTag(image.digest))).bytes.toString()
    )
    index.manifests.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: gone,
      size: 321,
      artifactType: 'application/spdx+json'
    })
    const bytes = Buffer.from(JSON.stringify(index))
    const stale = await front(
      startForwarder(source.url, (req, res) => {
        if (req.method !== 'GET' || manifestPath(req.url)?.reference !== fallbackTag(image.digest))
          return false
        req.resume()
        res.writeHead(200, { 'content-type': index.mediaType, 'docker-content-digest': sha256(bytes) })
        res.end(bytes)
        return true
      })
    )
    const dst = fresh()
    const result = await run({ ...from(stale.host, repo), destination: `${destination.host}/${dst}:v1` })
    expect(result.result).toBe('copied')
    expect(result.referrers.map((r) => r.digest)).toEqual([kept.digest])
    expect(result.log).toContainEqual(
      expect.stringMatching(
        new RegExp(`warning: ${gone} is listed as a referrer of ${image.digest} but its manifest is missing`)
      )
    )
  })

  test("a dangling entry in the destination's index is dropped and named; ours and live foreign ones stay", async () => {
    const repo = 'edges/dangling'
    const image = await seedImage(source, repo, 'v1', { platforms: ['linux/amd64'] })
    const ours = await sbomReferrer(source, repo, subjectOf(image))
    const dst = fresh()
    await run({
      ...from(source.host, repo),
      destination: `${destination.host}/${dst}:v1`,
      referrers: 'false'
    })
    const live = await bundleReferrer(destination, dst, subjectOf(image), key)
    // An index whose second entry's manifest was deleted: distribution refuses to store it again.
    const dead = `sha256:${'e'.repeat(64)}`
    const index = JSON.parse(
      (await getManifestBytes(destination, dst, fallbackTag(image.digest))).bytes.toString()
    )
    index.manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: dead, size: 10 })
    const bytes = Buffer.from(JSON.stringify(index))
    // Written through a front that does not check children, as it would have been before the delete.
    const lax = await front(
      startForwarder(destination.url, (req, res) => {
        if (req.method !== 'GET' || manifestPath(req.url)?.reference !== fallbackTag(image.digest))
          return false
        req.resume()
        res.writeHead(200, { 'content-type': index.mediaType, 'docker-content-digest': sha256(bytes) })
        res.end(bytes)
        return true
      })
    )
    const result = await run({ ...from(source.host, repo), destination: `${lax.host}/${dst}:v1` })
    expect(result.result).toBe('copied')
    const listed = (await listReferrersAt(destination, dst, image.digest)).map(
      (d: { digest: string }) => d.digest
    )
    expect(listed).toEqual([live.digest, ours.digest])
    expect(result.log).toContainEqual(
      expect.stringContaining(`listed ${dead}, which the destination no longer holds: dropped`)
    )
    expect(result.referrers.map((r) => r.digest).sort()).toEqual([ours.digest, live.digest].sort())
  })
})

describe('registries that answer unusually', () => {
  test('a 429 from the referrers API itself is retried, not taken for "no API"', async () => {
    const api = await front(startReferrersFront(source, { mode: 'api' }))
    const repo = 'edges/throttled'
    const image = await seedImage(api, repo, 'v1', { platforms: ['linux/amd64'] })
    const bundle = await bundleReferrer(api, repo, subjectOf(image), key, { fallback: 'auto' })
    const throttle = await front(
      startFaultProxy(api.url, {
        rules: [
          {
            method: 'GET',
            path: /\/referrers\//,
            times: 1,
            fault: { status: 429, headers: { 'retry-after': '0' } }
          }
        ]
      })
    )
    const result = await run({
      ...from(throttle.host, repo),
      destination: `${destination.host}/${fresh()}:v1`
    })
    expect(throttle.stats.injected).toEqual({ 'status 429': 1 })
    expect(result.referrers.map((r) => r.digest)).toEqual([bundle.digest])
  })

  test('a referrers URL that redirects to a web page (GHCR) means no API: the fallback tag is read, the redirect not followed', async () => {
    const repo = 'edges/ghcr'
    const image = await seedImage(source, repo, 'v1', { platforms: ['linux/amd64'] })
    const sbom = await sbomReferrer(source, repo, subjectOf(image))
    let followed = 0
    const web = await front(
      startForwarder(source.url, (req, res) => {
        req.resume()
        followed++
        res.writeHead(429, { 'content-type': 'text/html' })
        res.end('<html>rate limited</html>')
        return true
      })
    )
    const ghcr = await front(
      startForwarder(source.url, (req, res) => {
        if (!/\/referrers\//.test(req.url ?? '')) return false
        req.resume()
        res.writeHead(303, { location: `${web.url}/users/x/packages`, 'content-length': '0' })
        res.end()
        return true
      })
    )
    const result = await run({ ...from(ghcr.host, repo), destination: `${destination.host}/${fresh()}:v1` })
    expect(result.referrers.map((r) => r.digest)).toEqual([sbom.digest])
    expect(followed).toBe(0)
  })

  test('a destination repository that does not exist yet (NAME_UNKNOWN on every read, as ECR) takes the signatures', async () => {
    const repo = 'edges/new'
    const image = await seedImage(source, repo, 'v1', { platforms: ['linux/amd64'] })
    await signCosign(source, repo, subjectOf(image), key)
    await sbomReferrer(source, repo, subjectOf(image))
    const dst = fresh()
    let created = false
    const ecr = await front(
      startForwarder(destination.url, (req, res) => {
        if (req.method === 'PUT') created = true
        const m = manifestPath(req.url)
        if (created || !m || (req.method !== 'GET' && req.method !== 'HEAD')) return false
        answerError(
          req,
          res,
          404,
          'NAME_UNKNOWN',
          `The repository with name '${dst}' does not exist in the registry with id '123456789012'`
        )
        return true
      })
    )
    const result = await run({ ...from(source.host, repo), destination: `${ecr.host}/${dst}:v1` })
    expect(result.result).toBe('copied')
    expect(await verifyCosignSignatures(destination, dst, image.digest, key.publicKey)).toBe(1)
    expect(await listReferrersAt(destination, dst, image.digest)).toHaveLength(1)
  })
})

describe('digest tags at the destination', () => {
  test('one that holds something other than a signature manifest is left as it is', async () => {
    const repo = 'edges/odd-tag'
    const image = await seedImage(source, repo, 'v1', { platforms: ['linux/amd64'] })
    const sig = await signCosign(source, repo, subjectOf(image), key)
    const dst = fresh()
    await run({
      ...from(source.host, repo),
      destination: `${destination.host}/${dst}:v1`,
      referrers: 'false'
    })
    const index = await seedImage(destination, dst, digestTag(image.digest, 'sig'), {
      platforms: ['linux/amd64', 'linux/arm64'],
      seed: 'an index under the tag'
    })
    const result = await run({ ...from(source.host, repo), destination: `${destination.host}/${dst}:v1` })
    expect(result.result).toBe('unchanged')
    expect(await headDigest(destination, dst, digestTag(image.digest, 'sig'))).toBe(index.digest)
    expect(sig.digest).not.toBe(index.digest)
  })

  test('a signature added at the destination while the image copied is kept (the tag is read again before the write)', async () => {
    const repo = 'edges/race'
    const image = await seedImage(source, repo, 'v1', { platforms: ['linux/amd64'] })
    await signCosign(source, repo, subjectOf(image), key)
    const dst = fresh()
    const other = generateKeyPair()
    const tag = digestTag(image.digest, 'sig')
    // The plan's HEAD sees no tag; by the time of the write another signer has written one.
    let heads = 0
    const racing = await front(
      startForwarder(destination.url, async (req, res) => {
        if (req.method !== 'HEAD' || manifestPath(req.url)?.reference !== tag || heads++ > 0) return false
        await signCosign(destination, dst, subjectOf(image), other)
        answerError(req, res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown')
        return true
      })
    )
    const result = await run({ ...from(source.host, repo), destination: `${racing.host}/${dst}:v1` })
    expect(result.result).toBe('copied')
    expect(await verifyCosignSignatures(destination, dst, image.digest, other.publicKey)).toBe(1)
    expect(await verifyCosignSignatures(destination, dst, image.digest, key.publicKey)).toBe(1)
  })
})

describe('BuildKit attestations inside the index', () => {
  test('travel with the index, each pushed after the platform manifest it describes', async () => {
    const repo = 'edges/buildkit'
    const platform = await seedImage(source, repo, 'platform', { platforms: ['linux/amd64'], index: false })
    const statement = Buffer.from(
      JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', predicateType: 'https://spdx.dev/Document' })
    )
    await pushBlob(source, repo, blobOf(statement))
    await pushBlob(source, repo, blobOf(Buffer.from('{}')))
    const attestation = manifestOf({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(Buffer.from('{}')),
        size: 2
      },
      layers: [
        {
          mediaType: 'application/vnd.in-toto+json',
          digest: sha256(statement),
          size: statement.length,
          annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' }
        }
      ]
    })
    await putManifest(source, repo, attestation.digest, attestation)
    // BuildKit lists the attestation after the runnable manifests; put it first to make order matter.
    const index = manifestOf({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: attestation.mediaType,
          digest: attestation.digest,
          size: attestation.bytes.length,
          platform: { os: 'unknown', architecture: 'unknown' },
          annotations: {
            'vnd.docker.reference.type': 'attestation-manifest',
            'vnd.docker.reference.digest': platform.digest
          }
        },
        {
          mediaType: platform.mediaType,
          digest: platform.digest,
          size: platform.bytes.length,
          platform: { os: 'linux', architecture: 'amd64' }
        }
      ]
    })
    await putManifest(source, repo, 'v1', index)
    const dst = fresh()
    // The platform's blobs arrive late, so an attestation pushed without waiting would go first.
    const layer = JSON.parse(platform.bytes.toString()).layers[0].digest as string
    const watch = await front(
      startFaultProxy(destination.url, {
        rules: [{ path: new RegExp(layer), times: 1, fault: { delayMs: 400 } }]
      })
    )
    const result = await run({ ...from(source.host, repo), destination: `${watch.host}/${dst}:v1` })
    expect(result.result).toBe('copied')
    expect(watch.stats.injected).toEqual({ delay: 1 })
    expect(await headDigest(destination, dst, attestation.digest)).toBe(attestation.digest)
    const puts = watch.stats.log
      .filter((r: { method: string; url: string }) => r.method === 'PUT' && manifestPath(r.url))
      .map((r: { url: string }) => manifestPath(r.url)!.reference)
    expect(puts.indexOf(attestation.digest)).toBeGreaterThan(puts.indexOf(platform.digest))
    expect(puts.indexOf(platform.digest)).toBeGreaterThan(-1)
  })
})

function blobOf(bytes: Buffer) {
  return {
    size: bytes.length,
    digest: sha256(bytes),
    async *stream() {
      yield bytes
    }
  }
}

function manifestOf(document: Record<string, unknown>) {
  const bytes = Buffer.from(JSON.stringify(document))
  return { mediaType: document.mediaType as string, bytes, digest: sha256(bytes) }
}
