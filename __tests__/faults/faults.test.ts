// Fault injection: the committed bundle promotes between real docker-registry processes through
// proxies that reset connections, throttle, fail, go down, expire tokens, redirect and corrupt.
// Every case ends with the exact digest at the destination, or a clean failure with no tag written.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals'
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { ChildProcess } from 'node:child_process'
import { startRegistry, USERS } from '../../scripts/lib/registries.mjs'
import { blobPresent, headDigest, seedImage } from '../../scripts/lib/images.mjs'
import { errorsOf, runAction } from '../../scripts/lib/action.mjs'
import { startFaultProxy } from '../../scripts/lib/fault-proxy.mjs'
import { expectNoSecrets } from '../support/helpers.js'

type Registry = Awaited<ReturnType<typeof startRegistry>>
type Proxy = Awaited<ReturnType<typeof startFaultProxy>>
type Run = Awaited<ReturnType<typeof runAction>>

const KiB = 1024
let source: Registry
let dest: Registry
let srcFault: Proxy
let dstFault: Proxy
let tokenFault: Proxy
let image: Awaited<ReturnType<typeof seedImage>>
const survived: Record<string, number> = {}

beforeAll(async () => {
  // The token server's own proxy comes first: the registry must name it as its realm.
  tokenFault = await startFaultProxy('http://127.0.0.1:1')
  ;[source, dest] = await Promise.all([
    startRegistry({ auth: 'basic', name: 'fault-src' }),
    // Tokens live 2 s but are announced as 30 s, so the client holds them past expiry and the
    // destination proxy (below) answers 401 the way a strict registry would.
    startRegistry({
      auth: 'token',
      name: 'fault-dst',
      tokenTtlSeconds: 2,
      advertisedTtlSeconds: 30,
      tokenRealm: `${tokenFault.url}/token`
    })
  ])
  tokenFault.setTarget(dest.tokenServer!.url)
  ;[srcFault, dstFault] = await Promise.all([startFaultProxy(source.url), startFaultProxy(dest.url)])
  image = await seedImage(source, 'app', 'v1', {
    platforms: ['linux/amd64', 'linux/arm64'],
    sharedLayers: [3 * 1024 * KiB],
    layers: [300 * KiB, 2 * KiB]
  })
})

afterAll(async () => {
  process.stdout.write(
    `fault injection: ${Object.entries(survived)
      .map(([kind, n]) => `${n} ${kind}`)
      .join(', ')} injected and survived\n`
  )
  await Promise.all([srcFault?.stop(), dstFault?.stop(), tokenFault?.stop(), source?.stop(), dest?.stop()])
})

beforeEach(() => {
  for (const proxy of [srcFault, dstFault, tokenFault]) {
    proxy.rules.length = 0
    proxy.stats.log.length = 0
    proxy.up()
  }
})

afterEach(() => tally(srcFault, dstFault, tokenFault))

let counter = 0
const secrets = [USERS.promoter.password, USERS.reader.password]

function promote(
  repo = `faults/case${++counter}`,
  extra: Record<string, string> = {},
  options: Parameters<typeof runAction>[1] = {}
) {
  return {
    repo,
    run: runAction(
      {
        source: `${srcFault.host}/app:v1`,
        'source-username': 'promoter',
        'source-password': USERS.promoter.password,
        destination: `${dstFault.host}/${repo}`,
        'destination-username': 'promoter',
        'destination-password': USERS.promoter.password,
        concurrency: '4',
        ...extra
      },
      { timeoutMs: 120_000, ...options }
    )
  }
}

function tally(...proxies: Proxy[]) {
  for (const proxy of proxies) {
    for (const [kind, n] of Object.entries(proxy.stats.injected)) survived[kind] = (survived[kind] ?? 0) + n
    for (const kind of Object.keys(proxy.stats.injected)) proxy.stats.injected[kind] = 0
  }
}

async function expectPromoted(repo: string, run: Run) {
  expect(errorsOf(run)).toEqual([])
  expect(run.code).toBe(0)
  expect(run.outputs.digest).toBe(image.digest)
  expect(await headDigest(dest, repo, 'v1')).toBe(image.digest)
  for (const digest of image.blobs.keys()) expect(await blobPresent(dest, repo, digest)).toBe(true)
  expectNoSecrets(run, [...secrets, ...dest.tokenServer!.state.issued])
}

const bigBlob = () => [...image.blobs.entries()].sort((a, b) => b[1] - a[1])[0][0]

describe('network faults', () => {
  test('a connection reset in the middle of a blob download', async () => {
    srcFault.rules.push({
      method: 'GET',
      path: new RegExp(`/blobs/${bigBlob()}`),
      times: 2,
      fault: { resetResponseAfter: 200 * KiB }
    })
    const { repo, run } = promote()
    await expectPromoted(repo, await run)
    expect(srcFault.stats.injected['reset mid-response']).toBe(2)
  })

  test('a connection reset in the middle of an upload', async () => {
    dstFault.rules.push({
      method: 'PUT',
      path: /\/blobs\/uploads\//,
      when: (req: { headers: Record<string, string> }) => Number(req.headers['content-length']) > 1024 * KiB,
      times: 2,
      fault: { resetRequestAfter: 256 * KiB }
    })
    const { repo, run } = promote()
    await expectPromoted(repo, await run)
    expect(dstFault.stats.injected['reset mid-request']).toBe(2)
  })

  test('bursts of 500, 502 and 503 on every kind of request', async () => {
    for (const status of [500, 502, 503]) {
      srcFault.rules.push({ path: /\/manifests\//, times: 1, fault: { status } })
      srcFault.rules.push({ path: /\/blobs\//, times: 2, fault: { status } })
      dstFault.rules.push({ path: /\/blobs\//, times: 2, fault: { status } })
      dstFault.rules.push({ method: 'PUT', path: /\/manifests\//, times: 1, fault: { status } })
      tokenFault.rules.push({ path: /\/token/, times: 1, fault: { status } })
    }
    const { repo, run } = promote()
    await expectPromoted(repo, await run)
    expect(srcFault.totalInjected() + dstFault.totalInjected() + tokenFault.totalInjected()).toBe(21)
  })

  test('a destination that is down for a while, then returns', async () => {
    dstFault.down()
    const { repo, run } = promote()
    setTimeout(() => dstFault.up(), 1500)
    await expectPromoted(repo, await run)
    expect(dstFault.stats.injected.down).toBeGreaterThan(0)
  })
})

describe('429 Too Many Requests', () => {
  test('Retry-After is honoured on manifests, blobs and the token endpoint', async () => {
    const slowDown = { status: 429, headers: { 'retry-after': '1' } }
    srcFault.rules.push({ method: 'GET', path: /\/manifests\/v1$/, times: 1, fault: slowDown })
    dstFault.rules.push({ method: 'HEAD', path: /\/blobs\//, times: 1, fault: slowDown })
    tokenFault.rules.push({ path: /\/token/, times: 1, fault: slowDown })
    const { repo, run } = promote()
    await expectPromoted(repo, await run)
    // After each 429, the same request came back no sooner than the second it was told to wait.
    for (const [proxy, pattern] of [
      [srcFault, /\/manifests\/v1$/],
      [tokenFault, /\/token/]
    ] as const) {
      const times = proxy.stats.log
        .filter((r: { url: string }) => pattern.test(r.url))
        .map((r: { at: number }) => r.at)
      expect(times.length).toBeGreaterThanOrEqual(2)
      expect(times[1] - times[0]).toBeGreaterThanOrEqual(950)
    }
    expect(
      srcFault.stats.injected['status 429'] +
        dstFault.stats.injected['status 429'] +
        tokenFault.stats.injected['status 429']
    ).toBe(3)
  })
})

describe('authentication faults', () => {
  test('bearer tokens that expire during the copy are replaced', async () => {
    // A strict registry: any token past its exp claim gets 401 with the registry's challenge.
    const expired = (req: { headers: Record<string, string> }) => {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
      if (!bearer) return false
      const claims = JSON.parse(Buffer.from(bearer.split('.')[1], 'base64url').toString()) as { exp: number }
      return claims.exp * 1000 < Date.now()
    }
    dstFault.rules.push({
      when: expired,
      times: 1000,
      fault: {
        status: 401,
        headers: {
          'www-authenticate': `Bearer realm="${tokenFault.url}/token",service="${dest.tokenServer!.service}"`
        }
      }
    })
    // A slow source makes the copy outlive several tokens.
    srcFault.rules.push({ method: 'GET', path: /\/blobs\//, times: 1000, fault: { delayMs: 900 } })
    const tokensBefore = dest.tokenServer!.state.requests.length
    const { repo, run } = promote(undefined, { concurrency: '2' })
    await expectPromoted(repo, await run)
    expect(dstFault.stats.injected['status 401']).toBeGreaterThan(0)
    expect(dest.tokenServer!.state.requests.length - tokensBefore).toBeGreaterThan(1)
  })

  test('a blob redirect to another host gets no credentials, and the copy succeeds', async () => {
    const seen: (string | undefined)[] = []
    // Object storage on another origin (localhost, not 127.0.0.1), serving from the registry.
    const storage: Server = createServer(async (req, res) => {
      seen.push(req.headers.authorization)
      const authorization = await source.authHeader('app')
      const upstream = httpRequest(`${source.url}${req.url}`, { headers: { authorization } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      })
      upstream.end()
    })
    await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve))
    const port = (storage.address() as { port: number }).port
    srcFault.rules.push({
      method: 'GET',
      path: /\/blobs\/sha256:/,
      times: 1000,
      fault: { redirectTo: `http://localhost:${port}` }
    })
    try {
      const { repo, run } = promote()
      await expectPromoted(repo, await run)
      expect(seen.length).toBe(image.blobs.size)
      expect(seen.every((h) => h === undefined)).toBe(true)
      // The registry itself did get the credentials.
      expect(
        srcFault.stats.log.some((r: { authorization?: string }) => r.authorization?.startsWith('Basic '))
      ).toBe(true)
    } finally {
      storage.closeAllConnections()
      await new Promise<void>((resolve) => storage.close(() => resolve()))
    }
  })

  test('registry credentials go to the token realm only, never to the bearer registry', async () => {
    const { repo, run } = promote()
    await expectPromoted(repo, await run)
    const toRegistry = dstFault.stats.log
      .map((r: { authorization?: string }) => r.authorization)
      .filter(Boolean) as string[]
    expect(toRegistry.length).toBeGreaterThan(0)
    expect(toRegistry.every((h) => h.startsWith('Bearer '))).toBe(true)
    expect(
      tokenFault.stats.log.some((r: { authorization?: string }) => r.authorization?.startsWith('Basic '))
    ).toBe(true)
  })
})

describe('integrity', () => {
  test('a corrupt download is detected and retried', async () => {
    srcFault.rules.push({
      method: 'GET',
      path: new RegExp(`/blobs/${bigBlob()}`),
      times: 1,
      fault: { corrupt: true }
    })
    const { repo, run } = promote()
    const result = await run
    await expectPromoted(repo, result)
    expect(result.stdout).toMatch(
      new RegExp(`${bigBlob()}: attempt 1 failed .*content digest is sha256:[0-9a-f]{64}, expected`)
    )
  })

  test('a source that keeps serving corrupt bytes fails naming the blob; no tag is written', async () => {
    srcFault.rules.push({
      method: 'GET',
      path: new RegExp(`/blobs/${bigBlob()}`),
      times: 1000,
      fault: { corrupt: true }
    })
    const { repo, run } = promote()
    const result = await run
    expect(result.code).toBe(1)
    const errors = errorsOf(result)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain(`blob ${bigBlob()}`)
    expect(errors[0]).toMatch(/no tag was written/)
    expect(await headDigest(dest, repo, 'v1')).toBeUndefined()
    expect(await blobPresent(dest, repo, bigBlob())).toBe(false)
  })
})

describe('ending badly', () => {
  test.each(['SIGTERM', 'SIGINT'] as const)(
    '%s mid-copy: the process exits promptly and no tag is written',
    async (signal) => {
      // Without the cancel this copy would take over a minute.
      srcFault.rules.push({ method: 'GET', path: /\/blobs\//, times: 1000, fault: { delayMs: 60_000 } })
      let child: ChildProcess | undefined
      const { repo, run } = promote(
        undefined,
        {},
        { timeoutMs: 30_000, onSpawn: (c: ChildProcess) => (child = c) }
      )
      const deadline = Date.now() + 20_000
      while (
        !srcFault.stats.log.some(
          (r: { method: string; url: string }) => r.method === 'GET' && r.url.includes('/blobs/')
        )
      ) {
        if (Date.now() > deadline) throw new Error('the copy never started')
        await new Promise((r) => setTimeout(r, 20))
      }
      const sent = Date.now()
      child!.kill(signal)
      const result = await run
      const exitedAfter = Date.now() - sent
      expect(result.code).toBe(1)
      expect(errorsOf(result)).toEqual([
        expect.stringMatching(new RegExp(`promotion cancelled: cancelled by ${signal}`))
      ])
      expect(exitedAfter).toBeLessThan(20_000) // prompt: long before the stalled downloads would end
      expect(await headDigest(dest, repo, 'v1')).toBeUndefined()
    }
  )

  test('a transient "blob unknown" on a manifest write (a concurrent writer, eventual consistency) is retried', async () => {
    dstFault.rules.push({
      method: 'PUT',
      path: /\/manifests\/v1$/,
      times: 2,
      fault: {
        status: 400,
        body: '{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry"}]}'
      }
    })
    const { repo, run } = promote()
    await expectPromoted(repo, await run)
    expect(dstFault.stats.injected['status 400']).toBe(2)
  })

  test('a tag write that fails for good says what was and was not written', async () => {
    dstFault.rules.push({
      method: 'PUT',
      path: /\/manifests\/second$/,
      times: 1000,
      fault: { status: 403, body: '{"errors":[{"code":"DENIED","message":"tag is immutable"}]}' }
    })
    const repo = `faults/case${++counter}`
    const result = await promote(repo, { tags: 'first,second' }).run
    expect(result.code).toBe(1)
    const errors = errorsOf(result)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/write tag .*:second: .*403 DENIED: tag is immutable/)
    expect(errors[0]).toMatch(/tags written: first; not written: second; all content is present/)
    expect(await headDigest(dest, repo, 'first')).toBe(image.digest)
    expect(await headDigest(dest, repo, 'second')).toBeUndefined()
  })
})

describe('many at once', () => {
  test('eight promotions into one registry at once, two of them the same image', async () => {
    const others = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((i) =>
        seedImage(source, `matrix/app${i}`, 'v1', {
          platforms: ['linux/amd64', 'linux/arm64'],
          layers: [64 * KiB, i * KiB],
          sharedLayers: [128 * KiB]
        })
      )
    )
    const jobs = [
      ...others.map((img, i) => ({
        src: `matrix/app${i + 1}`,
        repo: `matrix/app${i + 1}`,
        digest: img.digest
      })),
      { src: 'app', repo: 'matrix/same', digest: image.digest },
      { src: 'app', repo: 'matrix/same', digest: image.digest }
    ]
    const runs = await Promise.all(
      jobs.map((job) =>
        runAction({
          source: `${source.host}/${job.src}:v1`,
          'source-username': 'promoter',
          'source-password': USERS.promoter.password,
          destination: `${dest.host}/${job.repo}`,
          'destination-username': 'promoter',
          'destination-password': USERS.promoter.password
        })
      )
    )
    for (const [i, run] of runs.entries()) {
      // Name the job and keep its log in the failure message: a flake here must be diagnosable.
      expect({ job: i, errors: errorsOf(run), log: run.code === 0 ? '' : run.stdout.slice(-3000) }).toEqual({
        job: i,
        errors: [],
        log: ''
      })
      expect(run.outputs.digest).toBe(jobs[i].digest)
      expect(await headDigest(dest, jobs[i].repo, 'v1')).toBe(jobs[i].digest)
    }
    // The two identical promotions each either wrote the tag or found it already written.
    for (const run of runs.slice(6)) expect(['copied', 'unchanged']).toContain(run.outputs.result)
  })
})

describe('soak', () => {
  test('many runs with random resets, 5xx and 429 (half of them to an Artifactory-like destination): every one ends with the exact digest', async () => {
    const runs = Number(process.env.ECR_PROMOTE_SOAK_RUNS ?? 10)
    const seed = Number(process.env.ECR_PROMOTE_SOAK_SEED ?? 20261123)
    const rates = { reset: 0.03, error5xx: 0.03, throttle429: 0.03 }
    const soakSrc = await startFaultProxy(source.url, { random: { seed, ...rates } })
    const soakDst = await startFaultProxy(dest.url, { random: { seed: seed + 1, ...rates } })
    let resumed = 0
    try {
      for (let i = 0; i < runs; i++) {
        const repo = `soak/run${i}`
        // Every other run meets a destination that answers 403 for what it does not hold (HEAD).
        soakDst.rules.length = 0
        if (i % 2 === 1)
          soakDst.rules.push({ method: 'HEAD', times: Infinity, fault: { mapStatus: { 404: 403 } } })
        const run = await runAction({
          source: `${soakSrc.host}/app:v1`,
          'source-username': 'promoter',
          'source-password': USERS.promoter.password,
          destination: `${soakDst.host}/${repo}`,
          'destination-username': 'promoter',
          'destination-password': USERS.promoter.password
        })
        expect(errorsOf(run)).toEqual([])
        expect(run.outputs.digest).toBe(image.digest)
        expect(await headDigest(dest, repo, 'v1')).toBe(image.digest)
        resumed += run.stdout.split('\n').filter((l) => l.includes('resuming from there')).length
      }
      const injected = soakSrc.totalInjected() + soakDst.totalInjected()
      process.stdout.write(
        `soak: ${runs} runs (seed ${seed}), ${soakSrc.stats.requests + soakDst.stats.requests} requests, ${injected} faults injected and survived: ` +
          `${JSON.stringify({ source: soakSrc.stats.injected, destination: soakDst.stats.injected })}; ` +
          `${resumed} downloads resumed mid-blob\n`
      )
      expect(injected).toBeGreaterThan(runs)
      tally(soakSrc, soakDst)
    } finally {
      await Promise.all([soakSrc.stop(), soakDst.stop()])
    }
  })
})
