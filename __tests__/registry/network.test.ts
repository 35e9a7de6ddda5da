// Network failures in words, retry levels and budgets, registry error bodies, token refreshes.
import { describe, expect, test } from '@jest/globals'
import { createServer } from 'node:http'
import {
  DEFAULT_NETWORK,
  describeNetworkCause,
  ProxyTunnelError,
  readNetworkEnvironment
} from '../../src/registry/network.js'
import { formatDetails, parseErrorBody, RegistryError } from '../../src/registry/errors.js'
import { isExhausted, withRetry } from '../../src/registry/retry.js'
import { RegistryClient } from '../../src/registry/transport.js'
import { headManifest } from '../../src/registry/fetch.js'

const coded = (code: string, message = code) => Object.assign(new Error(message), { code })
const network = { ...DEFAULT_NETWORK, connectTimeoutMs: 1500, responseTimeoutMs: 2000, idleTimeoutMs: 3000 }

describe('describeNetworkCause', () => {
  test.each([
    [coded('ECONNREFUSED'), 'connection refused', true],
    [coded('ENOTFOUND'), 'host name not found', false],
    [coded('EAI_AGAIN'), 'lookup failed for now', true],
    [coded('UND_ERR_CONNECT_TIMEOUT'), 'no connection within 1.5 s', true],
    [coded('UND_ERR_HEADERS_TIMEOUT'), 'did not answer within 2 s', true],
    [coded('UND_ERR_BODY_TIMEOUT'), 'stopped sending for 3 s', true],
    [coded('ECONNRESET'), 'closed the connection', true],
    [
      new Error('fetch failed', { cause: coded('UND_ERR_SOCKET', 'other side closed') }),
      'closed the connection',
      true
    ],
    [coded('SELF_SIGNED_CERT_IN_CHAIN'), 'NODE_EXTRA_CA_CERTS', false],
    [new ProxyTunnelError('the proxy answered 403 Forbidden to CONNECT', false, 403), 'answered 403', false]
  ])('%s', (error, words, retryable) => {
    const cause = describeNetworkCause(error, network)
    expect(cause?.reason).toContain(words)
    expect(cause?.retryable).toBe(retryable)
  })

  test('an error that is not of the wire is left alone', () => {
    expect(describeNetworkCause(new TypeError('bug'), network)).toBeUndefined()
  })
})

describe('readNetworkEnvironment', () => {
  test('reads each ECR_PROMOTE_*_MS variable', () => {
    expect(
      readNetworkEnvironment({ ECR_PROMOTE_CONNECT_TIMEOUT_MS: '1000', ECR_PROMOTE_REACH_BUDGET_MS: '3000' })
    ).toEqual({ connectTimeoutMs: 1000, reachBudgetMs: 3000 })
  })
  test.each(['0', '-1', '2s', '99999999'])('refuses %s, naming the variable', (value) => {
    expect(() => readNetworkEnvironment({ ECR_PROMOTE_IDLE_TIMEOUT_MS: value })).toThrow(
      /ECR_PROMOTE_IDLE_TIMEOUT_MS is .*milliseconds/
    )
  })
})

describe('parseErrorBody', () => {
  test.each([
    [
      '{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"x"}}]}',
      'NAME_UNKNOWN: repository name not known to registry ({"name":"x"})'
    ],
    ['{"details":"incorrect username or password"}', 'incorrect username or password'],
    ['{"error":"invalid_grant","error_description":"token expired"}', 'invalid_grant: token expired'],
    ['{"message":"Forbidden"}', 'Forbidden'],
    ['not json', '']
  ])('%s', (body, words) => {
    expect(formatDetails(parseErrorBody(body))).toBe(words)
  })
})

describe('withRetry', () => {
  const fast = { baseDelayMs: 1, maxDelayMs: 2 }

  test('an error that used up its retries is not retried again by an outer loop', async () => {
    let inner = 0
    let outer = 0
    const failing = () =>
      withRetry(
        async () => {
          inner++
          throw new RegistryError('503', { status: 503 })
        },
        { ...fast, attempts: 3 }
      )
    await expect(withRetry(async () => (outer++, failing()), { ...fast, attempts: 5 })).rejects.toThrow('503')
    expect(inner).toBe(3)
    expect(outer).toBe(1)
  })

  test('the error that ends a loop is marked exhausted', async () => {
    const error = await withRetry(
      async () => {
        throw new RegistryError('503', { status: 503 })
      },
      { ...fast, attempts: 2 }
    ).catch((e: unknown) => e)
    expect(isExhausted(error)).toBe(true)
    expect(isExhausted(new Error('wrapped', { cause: error }))).toBe(true)
  })

  test('an attempt that made progress earns fresh retries; one that did not uses them up', async () => {
    let moved = 0
    let calls = 0
    await withRetry(
      async () => {
        calls++
        if (calls <= 6) {
          moved += 10
          throw new RegistryError('reset', { retryable: true })
        }
        return 'done'
      },
      { ...fast, attempts: 2, progress: () => moved }
    )
    expect(calls).toBe(7)
    calls = 0
    await expect(
      withRetry(
        async () => {
          calls++
          throw new RegistryError('reset', { retryable: true })
        },
        { ...fast, attempts: 2, progress: () => moved }
      )
    ).rejects.toThrow('reset')
    expect(calls).toBe(2)
  })

  test('the budget counts from the last progress, not from the first attempt', async () => {
    let moved = 0
    let calls = 0
    await withRetry(
      async () => {
        calls++
        // Each attempt "streams" past the whole budget, then fails having moved bytes.
        await new Promise((r) => setTimeout(r, 30))
        if (calls < 3) {
          moved++
          throw new RegistryError('reset', { retryable: true })
        }
      },
      { ...fast, attempts: 5, maxElapsedMs: 20, progress: () => moved }
    )
    expect(calls).toBe(3)
  })
})

describe('token refresh under load', () => {
  test('concurrent 401s share one refresh, and a challenge scope joins the next token request', async () => {
    let issued = 0
    const tokenRequests: string[] = []
    let valid = ''
    const server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://x')
      if (url.pathname === '/token') {
        tokenRequests.push(url.searchParams.getAll('scope').sort().join(' '))
        valid = `t${++issued}`
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ token: valid, expires_in: 300 }))
        return
      }
      const challenge = `Bearer realm="http://127.0.0.1:${port}/token",service="s",scope="repository:app:pull repository:base:pull"`
      if (req.headers.authorization !== `Bearer ${valid}` || issued === 1) {
        // The first token is refused everywhere (expired in flight); the registry also wants base.
        res.writeHead(401, { 'www-authenticate': challenge }).end()
        return
      }
      res
        .writeHead(200, {
          'docker-content-digest': `sha256:${'a'.repeat(64)}`,
          'content-type': 'application/vnd.oci.image.manifest.v1+json'
        })
        .end()
    })
    const port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port))
    )
    const client = new RegistryClient({
      registry: `127.0.0.1:${port}`,
      scheme: 'http',
      retry: { baseDelayMs: 1 }
    })
    try {
      const heads = await Promise.all(
        Array.from({ length: 8 }, (_, i) => headManifest(client, 'app', `v${i}`))
      )
      expect(heads.every((h) => h?.digest)).toBe(true)
      // One token, refused; then one refresh for all eight, asking for the scope the challenge named.
      expect(tokenRequests).toEqual(['repository:app:pull', 'repository:app:pull repository:base:pull'])
    } finally {
      await client.close()
      await new Promise((r) => server.close(r))
    }
  })
})

describe('response timeouts', () => {
  test('a request that commits an upload may wait longer than the response timeout; others may not', async () => {
    const server = createServer((req, res) => {
      req.resume()
      if (req.url === '/v2/') return void res.writeHead(200).end()
      // Answers only after a pause, as a registry moving a large blob in its storage does (undici's
      // timers tick twice a second, so the pause is well past the 0.1 s response timeout).
      req.on('end', () => setTimeout(() => res.writeHead(req.method === 'PUT' ? 201 : 200).end(), 2500))
    })
    const port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port))
    )
    const client = new RegistryClient({
      registry: `127.0.0.1:${port}`,
      scheme: 'http',
      network: { responseTimeoutMs: 100, commitTimeoutMs: 10_000 },
      retry: { attempts: 1 }
    })
    try {
      const { putMonolithic } = await import('../../src/registry/write.js')
      await putMonolithic(
        client,
        { repository: 'app', digest: `sha256:${'b'.repeat(64)}`, size: 3 },
        { location: `http://127.0.0.1:${port}/v2/app/blobs/uploads/1` },
        Buffer.from('abc')
      )
      await expect(
        client.request({
          method: 'GET',
          url: '/v2/app/tags/list',
          scopes: [],
          expect: [200],
          what: 'GET tags'
        })
      ).rejects.toThrow(/GET tags: cannot reach 127\.0\.0\.1:\d+: did not answer within 0\.1 s/)
    } finally {
      await client.close()
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    }
  })
})
