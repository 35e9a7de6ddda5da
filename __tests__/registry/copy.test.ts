// The copy engine's upload paths and integrity checks, against a real registry behind a forwarder
// that plays the quirks distribution itself does not have.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { copyContent } from '../../src/registry/copy.js'
import { getManifest } from '../../src/registry/fetch.js'
import { RegistryClient } from '../../src/registry/transport.js'
import { startRegistry } from '../../scripts/lib/registries.mjs'
import { startForwarder } from '../../scripts/lib/proxy.mjs'
import { startFaultProxy } from '../../scripts/lib/fault-proxy.mjs'
import { blobPresent, seedImage } from '../../scripts/lib/images.mjs'
import { promote } from '../../src/promotion/promote.js'
import { inputsFrom, recordingReporter } from '../support/helpers.js'

type Registry = Awaited<ReturnType<typeof startRegistry>>
let source: Registry
let dest: Registry
let image: Awaited<ReturnType<typeof seedImage>>

beforeAll(async () => {
  ;[source, dest] = await Promise.all([startRegistry({ name: 'src' }), startRegistry({ name: 'dst' })])
  image = await seedImage(source, 'app', 'v1', {
    platforms: ['linux/amd64', 'linux/arm64'],
    sharedLayers: [300 * 1024 + 7],
    layers: [150 * 1024 + 3, 10]
  })
})
afterAll(async () => Promise.all([source?.stop(), dest?.stop()]))

async function copyWith(
  destHost: string,
  repo: string,
  options: { uploadMode?: 'chunked' | 'monolithic'; chunkBytes?: number } = {}
) {
  const src = new RegistryClient({ registry: source.host, scheme: 'http' })
  const dst = new RegistryClient({
    registry: destHost,
    scheme: 'http',
    retry: { baseDelayMs: 1, maxDelayMs: 5 }
  })
  const root = await getManifest(src, 'app', 'v1')
  const stats = await copyContent({
    source: { client: src, repository: 'app' },
    destination: { client: dst, repository: repo },
    root: root!,
    concurrency: 4,
    ...options
  })
  await Promise.all([src.close(), dst.close()])
  return stats
}

describe('uploads', () => {
  test('chunked uploads cut blobs into PATCH requests of the chunk size', async () => {
    const forwarder = await startForwarder(dest.url)
    try {
      const stats = await copyWith(forwarder.host, 'chunked', {
        uploadMode: 'chunked',
        chunkBytes: 64 * 1024
      })
      expect(stats.blobs.copied.count).toBe(image.blobs.size)
      for (const digest of image.blobs.keys()) expect(await blobPresent(dest, 'chunked', digest)).toBe(true)
      const patches = forwarder.seen.filter((r) => r.method === 'PATCH')
      const expected = [...image.blobs.values()].reduce(
        (n, size) => n + Math.max(1, Math.ceil(size / (64 * 1024))),
        0
      )
      expect(patches).toHaveLength(expected)
      expect(patches.every((p) => Number(p.headers['content-length']) <= 64 * 1024)).toBe(true)
    } finally {
      await forwarder.stop()
    }
  })

  test('a registry that refuses a single-request upload gets chunks instead', async () => {
    // Like a proxy with a request size limit: any PUT carrying a body is answered 413.
    const forwarder = await startForwarder(dest.url, (req, res) => {
      if (
        req.method === 'PUT' &&
        req.url?.includes('/blobs/uploads/') &&
        Number(req.headers['content-length']) > 0
      ) {
        req.resume()
        res.writeHead(413).end()
        return true
      }
      return false
    })
    try {
      const stats = await copyWith(forwarder.host, 'fallback')
      expect(stats.blobs.copied.count).toBe(image.blobs.size)
      for (const digest of image.blobs.keys()) expect(await blobPresent(dest, 'fallback', digest)).toBe(true)
      expect(forwarder.seen.some((r) => r.method === 'PATCH')).toBe(true)
    } finally {
      await forwarder.stop()
    }
  })
})

describe('upload sessions', () => {
  test('relative upload Locations are resolved and keep their query; no mount is tried across registries', async () => {
    const proxy = await startFaultProxy(dest.url, { relativeLocations: true })
    try {
      const stats = await copyWith(proxy.host, 'relative')
      expect(stats.blobs.copied.count).toBe(image.blobs.size)
      for (const digest of image.blobs.keys()) expect(await blobPresent(dest, 'relative', digest)).toBe(true)
      // distribution keeps its upload state in the query (_state=...): every PUT carried it back.
      const puts = proxy.stats.log.filter(
        (r: { method: string; url: string }) => r.method === 'PUT' && r.url.includes('/blobs/uploads/')
      )
      expect(puts.length).toBe(image.blobs.size)
      expect(puts.every((r: { url: string }) => r.url.includes('_state=') && r.url.includes('digest='))).toBe(
        true
      )
      expect(proxy.stats.log.some((r: { url: string }) => r.url.includes('mount='))).toBe(false)
    } finally {
      await proxy.stop()
    }
  })

  test('chunked uploads honour OCI-Chunk-Min-Length', async () => {
    const min = 100 * 1024
    const proxy = await startFaultProxy(dest.url, {
      rules: [
        {
          method: 'POST',
          path: /\/blobs\/uploads\/$/,
          times: 1000,
          fault: { addHeaders: { 'oci-chunk-min-length': String(min) } }
        }
      ]
    })
    try {
      const stats = await copyWith(proxy.host, 'minchunk', { uploadMode: 'chunked', chunkBytes: 16 * 1024 })
      expect(stats.blobs.copied.count).toBe(image.blobs.size)
      for (const digest of image.blobs.keys()) expect(await blobPresent(dest, 'minchunk', digest)).toBe(true)
      const patches = proxy.stats.log.filter((r: { method: string }) => r.method === 'PATCH')
      const sizes = patches.map((r: { headers: Record<string, string> }) =>
        Number(r.headers['content-length'])
      )
      // Every chunk but a blob's last is at least the minimum (never the 16 KiB asked for).
      const expected = [...image.blobs.values()].reduce(
        (n, size) => n + Math.max(1, Math.ceil(size / min)),
        0
      )
      expect(patches).toHaveLength(expected)
      expect(sizes.filter((n) => n === min).length).toBeGreaterThan(0)
      expect(sizes.every((n) => n <= min)).toBe(true)
    } finally {
      await proxy.stop()
    }
  })
})

describe('integrity', () => {
  test('a source serving corrupt bytes is retried, then fails naming the blob, and no tag is written', async () => {
    const victim = [...image.blobs.entries()].find(([, size]) => size > 100_000)![0]
    let served = 0
    const corrupt = await startForwarder(source.url, (req, res) => {
      if (req.method === 'GET' && req.url?.endsWith(`/blobs/${victim}`)) {
        served++
        const size = image.blobs.get(victim)!
        res.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream' })
        res.end(Buffer.alloc(size, 0x41))
        return true
      }
      return false
    })
    const reporter = recordingReporter()
    try {
      await expect(
        promote(
          inputsFrom({
            source: `${corrupt.host}/app:v1`,
            destination: `${dest.host}/corrupt:v1`,
            concurrency: '2'
          }),
          { reporter }
        )
      ).rejects.toThrow(
        new RegExp(
          `blob ${victim}.*content digest is sha256:[0-9a-f]{64}, expected ${victim}.*no tag was written`
        )
      )
      expect(served).toBe(5) // every attempt of the blob copy saw the corruption
      expect(await blobPresent(dest, 'corrupt', victim)).toBe(false)
      const head = await fetch(`${dest.url}/v2/corrupt/manifests/v1`, { method: 'HEAD' })
      expect(head.status).toBe(404)
    } finally {
      await corrupt.stop()
    }
  })

  test('a truncated stream is detected and a retry recovers', async () => {
    const victim = [...image.blobs.entries()].find(([, size]) => size > 100_000)![0]
    let served = 0
    const flaky = await startForwarder(source.url, (req, res) => {
      if (req.method === 'GET' && req.url?.endsWith(`/blobs/${victim}`) && served++ === 0) {
        const size = image.blobs.get(victim)!
        res.writeHead(200, { 'content-length': String(size) })
        // Headers and some bytes first, so the break happens mid-body, not before the response.
        res.write(Buffer.alloc(1000))
        setTimeout(() => res.destroy(), 50)
        return true
      }
      return false
    })
    try {
      const result = await promote(
        inputsFrom({ source: `${flaky.host}/app:v1`, destination: `${dest.host}/truncated:v1` }),
        {
          reporter: recordingReporter()
        }
      )
      expect(result.digest).toBe(image.digest)
      // The zeros it served first fail the digest: one resume or fresh retry at least, then the real bytes.
      expect(result.copy?.retries).toBeGreaterThanOrEqual(1)
      expect(await blobPresent(dest, 'truncated', victim)).toBe(true)
    } finally {
      await flaky.stop()
    }
  })
})

describe('bounded retries', () => {
  const victim = () => [...image.blobs.entries()].find(([, size]) => size > 100_000)![0]

  test('a destination that takes every upload body and then fails it ends the copy (each attempt restreams the same bytes: no progress)', async () => {
    let puts = 0
    const failing = await startForwarder(dest.url, (req, res) => {
      if (
        req.method === 'PUT' &&
        req.url?.includes('/blobs/uploads/') &&
        req.url.includes(victim().slice(7))
      ) {
        puts++
        req.resume()
        req.on('end', () =>
          res
            .writeHead(500, { 'content-type': 'application/json' })
            .end('{"errors":[{"code":"UNKNOWN","message":"disk full"}]}')
        )
        return true
      }
      return false
    })
    try {
      await expect(
        promote(inputsFrom({ source: `${source.host}/app:v1`, destination: `${failing.host}/bounded:v1` }), {
          reporter: recordingReporter(),
          network: { retryBudgetMs: 2_000 }
        })
      ).rejects.toThrow(/disk full.*no tag was written/)
      // Five attempts without progress, never the unbounded loop of "every attempt moved bytes".
      expect(puts).toBeGreaterThan(1)
      expect(puts).toBeLessThanOrEqual(20)
    } finally {
      await failing.stop()
    }
  })

  test('a source that keeps cutting a download (and ignores Range) is named as the source, not the destination', async () => {
    const cutting = await startForwarder(source.url, (req, res) => {
      if (req.method === 'GET' && req.url?.endsWith(`/blobs/${victim()}`)) {
        res.writeHead(200, { 'content-length': String(image.blobs.get(victim())) })
        res.write(Buffer.alloc(2000))
        setTimeout(() => res.destroy(), 20)
        return true
      }
      return false
    })
    try {
      const error = await promote(
        inputsFrom({ source: `${cutting.host}/app:v1`, destination: `${dest.host}/blamed:v1` }),
        { reporter: recordingReporter(), network: { retryBudgetMs: 1_000 } }
      ).catch((e: Error) => e)
      expect(error).toBeInstanceOf(Error)
      expect((error as Error).message).toMatch(
        new RegExp(
          `download of blob ${victim()} \\(at byte \\d+\\): cannot reach ${cutting.host.replace(/\./g, '\\.')}: closed the connection`
        )
      )
      expect((error as Error).message).not.toContain(`cannot reach ${dest.host}`)
    } finally {
      await cutting.stop()
    }
  })
})
