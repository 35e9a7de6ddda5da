// What images hold that the engine must copy faithfully, and a long transfer that breaks: real
// docker-registry processes, with fronts of our own where distribution 2.8 cannot play the part.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { startRegistry } from '../../scripts/lib/registries.mjs'
import {
  blobPresent,
  headDigest,
  pushBlob,
  pushManifest,
  seedImage,
  syntheticBlob
} from '../../scripts/lib/images.mjs'
import { startFaultProxy } from '../../scripts/lib/fault-proxy.mjs'
import { blobGets, holdsManifests, manifestOf, run, servesManifests, sha256 } from '../support/fronts.js'

type Registry = Awaited<ReturnType<typeof startRegistry>>
type Front = { stop: () => Promise<void> }

const KiB = 1024
const MiB = 1024 * KiB
const TIMEOUT = 60_000
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json'
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip'
const NONDISTRIBUTABLE = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip'
const THING = 'application/vnd.example.thing.v1+json'

let source: Registry
let dest: Registry
const fronts: Front[] = []

beforeAll(async () => {
  // Both accept layers that carry `urls` (distribution refuses such manifests, with a 500, otherwise).
  ;[source, dest] = await Promise.all([
    startRegistry({ auth: 'none', name: 'content-source', manifestUrlsAllow: ['^https?://'] }),
    startRegistry({ auth: 'none', name: 'content-dest', manifestUrlsAllow: ['^https?://'] })
  ])
}, TIMEOUT)

afterAll(async () => {
  await Promise.all(fronts.map((f) => f.stop()))
  await Promise.all([source, dest].filter(Boolean).map((r) => r.stop()))
}, TIMEOUT)

async function front<T extends Front>(started: Promise<T>): Promise<T> {
  const f = await started
  fronts.push(f)
  return f
}

let counter = 0
const fresh = (prefix: string): string => `${prefix}/case${++counter}`

describe('a long blob transfer that breaks (the retry budget bounds failing, not moving bytes)', () => {
  const BLOB = 2 * MiB
  const CUT = 1536 * KiB
  // 1 MiB/s and a reset after 1.5 MiB: the first GET of the layer runs ~1.5 s, three times the budget.
  const slowThenReset = (digest: string) => ({
    method: 'GET',
    path: new RegExp(`/blobs/${digest}$`),
    times: 1,
    fault: { throttleBytesPerSecond: MiB, resetResponseAfter: CUT }
  })
  const NETWORK = { network: { retryBudgetMs: 500 } }

  async function seedLayered(repo: string) {
    const image = await seedImage(source, repo, 'v1', { layers: [BLOB, 3 * KiB], index: false })
    const layer = [...image.blobs].find(([, size]) => size === BLOB)?.[0] as string
    return { image, layer }
  }

  test(
    'resumes the download from the last byte received (distribution serves Range on blobs)',
    async () => {
      const { image, layer } = await seedLayered('src/slow')
      const proxy = await front(startFaultProxy(source.url, { rules: [slowThenReset(layer)] }))
      const repo = fresh('slow')
      const result = await run(
        { source: `${proxy.host}/src/slow:v1`, destination: `${dest.host}/${repo}` },
        NETWORK
      )
      expect(proxy.stats.injected['throttle then reset']).toBe(1)
      expect(result.result).toBe('copied')
      expect(await headDigest(dest, repo, 'v1')).toBe(image.digest)
      expect(await blobPresent(dest, repo, layer)).toBe(true)
      const gets = blobGets(proxy.stats.log, layer)
      expect(gets.length).toBeGreaterThanOrEqual(2)
      expect(gets[1].at - gets[0].at).toBeGreaterThan(1000)
      expect(gets[0].range).toBeUndefined()
      const resumedAt = Number(/^bytes=(\d+)-$/.exec(gets[1].range ?? '')?.[1])
      expect(resumedAt).toBeGreaterThan(0)
      expect(resumedAt).toBeLessThanOrEqual(CUT)
      // No byte crossed twice.
      const total = [...image.blobs.values()].reduce((a, b) => a + b, 0)
      expect(result.copy?.bytesTransferred).toBe(total)
    },
    TIMEOUT
  )

  test(
    'a source that ignores Range: the retry downloads afresh and the copy is intact',
    async () => {
      const { image, layer } = await seedLayered('src/norange')
      const proxy = await front(
        startFaultProxy(source.url, {
          rules: [slowThenReset(layer)],
          // A front that drops the Range header: the registry answers 200 with the whole blob.
          intercept: (req) => {
            delete req.headers.range
            return false
          }
        })
      )
      const repo = fresh('norange')
      const result = await run(
        { source: `${proxy.host}/src/norange:v1`, destination: `${dest.host}/${repo}` },
        NETWORK
      )
      expect(proxy.stats.injected['throttle then reset']).toBe(1)
      expect(result.result).toBe('copied')
      expect(await headDigest(dest, repo, 'v1')).toBe(image.digest)
      expect(await blobPresent(dest, repo, layer)).toBe(true)
      // The engine did try to resume (the front's log keeps the header it then dropped).
      const gets = blobGets(proxy.stats.log, layer)
      expect(gets.some((g) => /^bytes=[1-9]\d*-$/.test(g.range ?? ''))).toBe(true)
    },
    TIMEOUT
  )
})

describe('non-distributable layers', () => {
  async function pushImage(
    repo: string,
    tag: string,
    layers: {
      mediaType: string
      blob?: ReturnType<typeof syntheticBlob>
      urls?: string[]
      digest?: string
      size?: number
    }[]
  ) {
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })
    )
    const configBlob = {
      size: config.length,
      digest: sha256(config),
      async *stream() {
        yield config
      }
    }
    await pushBlob(source, repo, configBlob)
    for (const l of layers) if (l.blob) await pushBlob(source, repo, l.blob)
    const manifest = manifestOf({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: configBlob.digest, size: configBlob.size },
      layers: layers.map((l) => ({
        mediaType: l.mediaType,
        digest: l.blob?.digest ?? l.digest,
        size: l.blob?.size ?? l.size,
        ...(l.urls ? { urls: l.urls } : {})
      }))
    })
    await pushManifest(source, repo, tag, manifest)
    return { manifest, config: configBlob.digest }
  }

  test(
    'a non-distributable media type without urls is content like any other: copied',
    async () => {
      const restricted = syntheticBlob('restricted', 64 * KiB)
      const plain = syntheticBlob('plain', 16 * KiB)
      const { manifest, config } = await pushImage('src/nondist', 'v1', [
        { mediaType: OCI_LAYER, blob: plain },
        { mediaType: NONDISTRIBUTABLE, blob: restricted }
      ])
      const repo = fresh('nondist')
      const result = await run({
        source: `${source.host}/src/nondist:v1`,
        destination: `${dest.host}/${repo}`
      })
      expect(result.result).toBe('copied')
      expect(await headDigest(dest, repo, 'v1')).toBe(manifest.digest)
      for (const digest of [config, plain.digest, restricted.digest])
        expect(await blobPresent(dest, repo, digest)).toBe(true)
    },
    TIMEOUT
  )

  test(
    'a foreign layer (with urls) is left where it is served, and the log says so',
    async () => {
      const plain = syntheticBlob('beside-foreign', 16 * KiB)
      // Held by neither registry, as Windows base layers are: the manifest says where to fetch it.
      const foreign = {
        mediaType: NONDISTRIBUTABLE,
        digest: sha256(Buffer.from('foreign layer')),
        size: 13,
        urls: ['https://example.invalid/base.tar.gz']
      }
      const { manifest, config } = await pushImage('src/foreign', 'v1', [
        { mediaType: OCI_LAYER, blob: plain },
        foreign
      ])
      const repo = fresh('foreign')
      const result = await run({
        source: `${source.host}/src/foreign:v1`,
        destination: `${dest.host}/${repo}`
      })
      expect(result.result).toBe('copied')
      expect(await headDigest(dest, repo, 'v1')).toBe(manifest.digest)
      for (const digest of [config, plain.digest]) expect(await blobPresent(dest, repo, digest)).toBe(true)
      expect(await blobPresent(dest, repo, foreign.digest)).toBe(false)
      expect(result.log.some((l) => l.includes(foreign.digest) && /urls|foreign/i.test(l))).toBe(true)
    },
    TIMEOUT
  )
})

describe('an index child of a media type the engine does not know', () => {
  test(
    'is copied by digest, byte for byte, with its media type, unwalked',
    async () => {
      const base = await seedImage(source, 'src/thing', 'base', { layers: [8 * KiB], index: false })
      const thing = manifestOf({
        schemaVersion: 2,
        mediaType: THING,
        thing: { name: 'example', note: 'not an image' }
      })
      const index = manifestOf({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          {
            mediaType: base.mediaType,
            digest: base.digest,
            size: base.bytes.length,
            platform: { os: 'linux', architecture: 'amd64' }
          },
          { mediaType: THING, digest: thing.digest, size: thing.bytes.length }
        ]
      })
      // distribution 2.8 refuses unknown manifest media types (400 MANIFEST_INVALID), so the source
      // front serves the index and the custom child itself; the platform image is the registry's.
      const sourceFront = await front(
        startFaultProxy(source.url, {
          intercept: servesManifests('src/thing', { v1: index, [index.digest]: index, [thing.digest]: thing })
        })
      )
      // The destination front keeps the custom child (and the index, which distribution would refuse
      // for naming a child it does not hold) in memory; the platform image goes to the registry.
      const repo = fresh('thing')
      const { intercept, puts } = holdsManifests(repo, [thing.digest, index.digest, 'v1'])
      const destFront = await front(startFaultProxy(dest.url, { intercept }))
      const result = await run({
        source: `${sourceFront.host}/src/thing:v1`,
        destination: `${destFront.host}/${repo}`
      })
      expect(result.result).toBe('copied')
      expect(result.digest).toBe(index.digest)
      const child = puts.find((p) => p.reference === thing.digest)
      expect(child?.contentType).toBe(THING)
      expect(child?.bytes.equals(thing.bytes)).toBe(true)
      expect(puts.find((p) => p.reference === 'v1')?.bytes.equals(index.bytes)).toBe(true)
      expect(await headDigest(dest, repo, base.digest)).toBe(base.digest)
      for (const digest of base.blobs.keys()) expect(await blobPresent(dest, repo, digest)).toBe(true)
      expect(result.log.some((l) => /unwalked/i.test(l))).toBe(true)
    },
    TIMEOUT
  )
})

describe('an index of indexes', () => {
  test(
    'reports the platforms of the inner index and copies every level',
    async () => {
      const inner = await seedImage(source, 'src/nested', 'inner', {
        platforms: ['linux/amd64', 'linux/arm64'],
        layers: [4 * KiB]
      })
      const outer = manifestOf({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ mediaType: inner.mediaType, digest: inner.digest, size: inner.bytes.length }]
      })
      await pushManifest(source, 'src/nested', 'outer', outer)
      const repo = fresh('nested')
      const result = await run({
        source: `${source.host}/src/nested:outer`,
        destination: `${dest.host}/${repo}`
      })
      expect(result.result).toBe('copied')
      expect(result.digest).toBe(outer.digest)
      expect(result.platforms).toEqual(['linux/amd64', 'linux/arm64'])
      expect(await headDigest(dest, repo, 'outer')).toBe(outer.digest)
      for (const digest of [outer.digest, inner.digest, ...inner.manifests.map((m) => m.digest)])
        expect(await headDigest(dest, repo, digest)).toBe(digest)
      for (const digest of inner.blobs.keys()) expect(await blobPresent(dest, repo, digest)).toBe(true)
    },
    TIMEOUT
  )
})
