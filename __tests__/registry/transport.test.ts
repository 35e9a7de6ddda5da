// The transport against real HTTP peers: a registry that redirects blob reads to another host (as ECR
// does to S3), registries that fail and recover, and a real token-auth docker-registry.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { getBlob, headManifest } from '../../src/registry/fetch.js'
import { RegistryClient } from '../../src/registry/transport.js'
import { startRegistry, USERS } from '../../scripts/lib/registries.mjs'
import { startForwarder } from '../../scripts/lib/proxy.mjs'
import { seedImage } from '../../scripts/lib/images.mjs'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

async function serve(
  handler: Handler
): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer(handler)
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port))
  )
  return {
    server,
    port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

const DIGEST = 'sha256:' + 'd'.repeat(64)
const fast = { baseDelayMs: 1, maxDelayMs: 5 }

describe('redirects', () => {
  test('a blob redirect to another host carries no credentials and no query in errors', async () => {
    const storageSeen: (string | undefined)[] = []
    const storage = await serve((req, res) => {
      storageSeen.push(req.headers.authorization)
      if (req.url?.includes('fail')) {
        res.writeHead(403).end('<Error>SignatureDoesNotMatch</Error>')
        return
      }
      res.writeHead(200, { 'content-length': '5' }).end('bytes')
    })
    const registrySeen: (string | undefined)[] = []
    const registry = await serve((req, res) => {
      registrySeen.push(req.headers.authorization)
      if (!req.headers.authorization) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end()
        return
      }
      if (req.url === '/v2/') return void res.writeHead(200).end()
      const target = req.url?.includes(DIGEST) ? 'ok' : 'fail'
      // localhost and 127.0.0.1 are different origins: the redirect leaves the registry's origin.
      res
        .writeHead(307, { location: `http://localhost:${storage.port}/${target}?X-Amz-Signature=SECRETSIG` })
        .end()
    })
    const client = new RegistryClient({
      registry: `127.0.0.1:${registry.port}`,
      scheme: 'http',
      credentials: { username: 'AWS', password: 'ecr-password' },
      retry: fast
    })
    try {
      const response = await getBlob(client, 'app', DIGEST)
      expect(await response.body.text()).toBe('bytes')
      expect(storageSeen).toEqual([undefined])
      expect(registrySeen.filter(Boolean).length).toBeGreaterThan(0)

      const failing = getBlob(client, 'app', 'sha256:' + 'e'.repeat(64))
      await expect(failing).rejects.toThrow(/403/)
      await expect(getBlob(client, 'app', 'sha256:' + 'e'.repeat(64))).rejects.not.toThrow(/SECRETSIG/)
      expect(storageSeen.every((h) => h === undefined)).toBe(true)
    } finally {
      await client.close()
      await registry.close()
      await storage.close()
    }
  })
})

describe('rate limits', () => {
  test('the pull rate limit a registry announces is recorded', async () => {
    const registry = await serve((req, res) => {
      if (req.url === '/v2/') return void res.writeHead(200).end()
      res
        .writeHead(200, {
          'docker-content-digest': DIGEST,
          'ratelimit-limit': '100;w=21600',
          'ratelimit-remaining': '76;w=21600'
        })
        .end()
    })
    const client = new RegistryClient({ registry: `127.0.0.1:${registry.port}`, scheme: 'http' })
    try {
      expect(client.rateLimit).toBeUndefined()
      await headManifest(client, 'app', 'v1')
      expect(client.rateLimit).toEqual({ limit: 100, remaining: 76, windowSeconds: 21600 })
    } finally {
      await client.close()
      await registry.close()
    }
  })
})

describe('retries', () => {
  test('5xx is retried until it succeeds; 404 and 401 are not retried', async () => {
    const counts: Record<string, number> = {}
    const registry = await serve((req, res) => {
      const key = req.url ?? ''
      counts[key] = (counts[key] ?? 0) + 1
      if (key === '/v2/') return void res.writeHead(200).end()
      if (key.includes('flaky') && counts[key] < 3) return void res.writeHead(503).end()
      if (key.includes('limited') && counts[key] < 2)
        return void res.writeHead(429, { 'retry-after': '0' }).end()
      if (key.includes('missing')) return void res.writeHead(404).end()
      if (key.includes('denied')) return void res.writeHead(403).end()
      res
        .writeHead(200, {
          'docker-content-digest': DIGEST,
          'content-type': 'application/vnd.oci.image.manifest.v1+json'
        })
        .end()
    })
    const client = new RegistryClient({ registry: `127.0.0.1:${registry.port}`, scheme: 'http', retry: fast })
    try {
      expect(await headManifest(client, 'flaky', 'v1')).toMatchObject({ digest: DIGEST })
      expect(counts['/v2/flaky/manifests/v1']).toBe(3)
      expect(await headManifest(client, 'limited', 'v1')).toMatchObject({ digest: DIGEST })
      expect(counts['/v2/limited/manifests/v1']).toBe(2)
      expect(await headManifest(client, 'missing', 'v1')).toBeUndefined()
      expect(counts['/v2/missing/manifests/v1']).toBe(1)
      // Artifactory answers a HEAD of what it does not hold with 403: absent, not an error, no retry.
      expect(await headManifest(client, 'denied', 'v1')).toBeUndefined()
      expect(counts['/v2/denied/manifests/v1']).toBe(1)
    } finally {
      await client.close()
      await registry.close()
    }
  })

  test('a registry that is down gives a clear error after the retries', async () => {
    const dead = await serve(() => undefined)
    const port = dead.port
    await dead.close()
    const client = new RegistryClient({
      registry: `127.0.0.1:${port}`,
      scheme: 'http',
      retry: { ...fast, attempts: 2 }
    })
    await expect(headManifest(client, 'app', 'v1')).rejects.toThrow(
      /registry 127\.0\.0\.1:\d+: cannot reach 127\.0\.0\.1:\d+: connection refused/
    )
    await client.close()
  })
})

describe('bearer tokens against a real token-auth registry', () => {
  let registry: Awaited<ReturnType<typeof startRegistry>>
  let image: Awaited<ReturnType<typeof seedImage>>
  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token', advertisedTtlSeconds: 1 })
    image = await seedImage(registry, 'acme/app', 'v1', { layers: [1024], index: false })
  })
  afterAll(async () => registry?.stop())

  const credentials = { username: 'promoter', password: USERS.promoter.password }

  test('concurrent requests for one scope share one token request', async () => {
    const client = new RegistryClient({ registry: registry.host, scheme: 'http', credentials })
    const heads = await Promise.all(Array.from({ length: 20 }, () => headManifest(client, 'acme/app', 'v1')))
    expect(heads.every((h) => h?.digest === image.digest)).toBe(true)
    expect(client.auth.tokenRequests).toBe(1)
    await client.close()
  })

  test('a token is refreshed once it expires', async () => {
    const client = new RegistryClient({ registry: registry.host, scheme: 'http', credentials })
    expect((await headManifest(client, 'acme/app', 'v1'))?.digest).toBe(image.digest)
    await new Promise((r) => setTimeout(r, 1100))
    expect((await headManifest(client, 'acme/app', 'v1'))?.digest).toBe(image.digest)
    expect(client.auth.tokenRequests).toBe(2)
    await client.close()
  })

  test('a token the registry refuses (401) is replaced once, then the request succeeds', async () => {
    let refused = 0
    const forwarder = await startForwarder(registry.url, (req, res) => {
      if (refused === 0 && req.url?.startsWith('/v2/acme/') && req.headers.authorization) {
        refused++
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="${registry.tokenServer!.url}/token",service="${registry.tokenServer!.service}",scope="repository:acme/app:pull"`
        })
        res.end()
        return true
      }
      return false
    })
    const client = new RegistryClient({ registry: forwarder.host, scheme: 'http', credentials })
    try {
      expect((await headManifest(client, 'acme/app', 'v1'))?.digest).toBe(image.digest)
      expect(refused).toBe(1)
      expect(client.auth.tokenRequests).toBe(2)
    } finally {
      await client.close()
      await forwarder.stop()
    }
  })

  test('wrong credentials fail without retrying', async () => {
    const client = new RegistryClient({
      registry: registry.host,
      scheme: 'http',
      credentials: { username: 'promoter', password: 'nope' }
    })
    await expect(headManifest(client, 'acme/app', 'v1')).rejects.toThrow(/refused the credentials/)
    expect(client.auth.tokenRequests).toBe(1)
    await client.close()
  })
})
