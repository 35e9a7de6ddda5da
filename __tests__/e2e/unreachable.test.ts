// A registry or proxy that cannot be reached must end the run promptly, with exit code 1 and one
// message that names the side, the host, the proxy (when there is one) and what went wrong, in words
// a user can act on. Each case runs the committed bundle against real docker-registry processes with
// one side broken: by a proxy that misbehaves, a registry that never answers, a host name that does
// not resolve, a port nobody listens on. The ECR_PROMOTE_*_MS variables shorten our own waits so a
// case takes seconds, not the minutes the defaults allow.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import type { ChildProcess } from 'node:child_process'
import { freePort, startRegistry } from '../../scripts/lib/registries.mjs'
import { headDigest, seedImage } from '../../scripts/lib/images.mjs'
import { errorsOf, runAction } from '../../scripts/lib/action.mjs'
import {
  startClosingProxy,
  startRefusingProxy,
  startSilentServer,
  startStallingProxy,
  startTunnelClosingProxy
} from '../../scripts/lib/bad-servers.mjs'

type Registry = Awaited<ReturnType<typeof startRegistry>>
type BadServer = Awaited<ReturnType<typeof startClosingProxy>>
type Run = Awaited<ReturnType<typeof runAction>>
type Side = 'source' | 'destination'

let source: Registry
let dest: Registry

// Every case must end well inside this; the run's own limit (SIGKILL) comes first, so a hang shows
// as code 'SIGKILL', never as a test that times out with its servers still open.
const TEST_TIMEOUT_MS = 70_000
const RUN_TIMEOUT_MS = 60_000
const FAST = {
  ECR_PROMOTE_CONNECT_TIMEOUT_MS: '1000',
  ECR_PROMOTE_RESPONSE_TIMEOUT_MS: '1500',
  ECR_PROMOTE_IDLE_TIMEOUT_MS: '1500',
  ECR_PROMOTE_REACH_BUDGET_MS: '3000'
}
// Raw undici and JavaScript words that must never reach the user.
const RAW = ['Proxy response', 'HTTP Tunneling', 'UND_ERR', 'undefined']
const NOWHERE = 'registry.nonexistent.invalid'

beforeAll(async () => {
  ;[source, dest] = await Promise.all([
    startRegistry({ auth: 'none', name: 'unreach-src' }),
    startRegistry({ auth: 'none', name: 'unreach-dst' })
  ])
  await seedImage(source, 'app', 'v1', { layers: [1024] })
})
afterAll(async () => {
  // What each case did, for whoever reads a failing CI log (times are printed, never asserted).
  process.stdout.write(`unreachable:\n${seen.join('\n')}\n`)
  await Promise.all([source?.stop(), dest?.stop()])
})

const seen: string[] = []
function record(name: string, run: Run): void {
  const error = errorsOf(run)[0] ?? '(no ::error::)'
  seen.push(`  ${name}: exit ${run.code} in ${(run.wallMs / 1000).toFixed(1)} s: ${error.slice(0, 300)}`)
}

/** What one case breaks: the broken side's host, and the proxy in the way (if any). */
interface Broken {
  host: string
  proxy?: BadServer
  server?: BadServer
}

interface Case {
  what: string
  reason: RegExp
  /** Breaks `side`; `real` is that side's working registry. */
  arrange: (real: Registry) => Promise<Broken>
}

const behind = (start: () => Promise<BadServer>) => async (real: Registry) => ({
  host: real.host,
  proxy: await start()
})

const CASES: Case[] = [
  {
    what: 'HTTP_PROXY closes every connection at once',
    reason: /closed the connection/i,
    arrange: behind(startClosingProxy)
  },
  {
    what: 'HTTP_PROXY never answers CONNECT',
    reason: /did not answer/i,
    arrange: behind(startStallingProxy)
  },
  {
    what: 'HTTP_PROXY answers 200 to CONNECT, then closes the tunnel',
    reason: /closed the connection/i,
    arrange: behind(startTunnelClosingProxy)
  },
  {
    what: 'HTTP_PROXY answers 403 to CONNECT',
    reason: /answered 403/i,
    arrange: behind(() => startRefusingProxy(403))
  },
  {
    what: 'the registry accepts connections and never answers',
    reason: /did not answer/i,
    arrange: async () => {
      const server = await startSilentServer()
      return { host: server.host, server }
    }
  },
  {
    what: 'the host name does not resolve',
    reason: /host name not found/i,
    arrange: async () => ({ host: NOWHERE })
  },
  {
    what: 'nothing listens on the port',
    reason: /connection refused/i,
    arrange: async () => ({ host: `127.0.0.1:${await freePort()}` })
  }
]

const TABLE = (['source', 'destination'] as Side[]).flatMap((side) => CASES.map((c) => ({ side, ...c })))

function expectCleanFailure(run: Run, side: Side, broken: Broken, reason: RegExp): void {
  // 1, from the action itself: not 0 (a success that copied nothing), not a signal (a hang we killed).
  expect(run.code).toBe(1)
  const errors = errorsOf(run)
  expect(errors.length).toBeGreaterThan(0)
  const text = errors.join('\n')
  expect(text).toContain(broken.host)
  if (broken.proxy) expect(text).toContain(`through proxy ${broken.proxy.host} (HTTP_PROXY)`)
  expect(text).toMatch(reason)
  expect(text).toMatch(new RegExp(`\\b${side}\\b`, 'i'))
  for (const raw of RAW) expect(text).not.toContain(raw)
  expect(run.outputs.digest).toBeUndefined()
}

describe('an unreachable side ends the run with exit 1 and a message that says why', () => {
  test.each(TABLE)(
    '$side: $what',
    async ({ side, what, reason, arrange }) => {
      const broken = await arrange(side === 'source' ? source : dest)
      const other = side === 'source' ? dest : source
      try {
        const srcHost = side === 'source' ? broken.host : source.host
        const dstHost = side === 'destination' ? broken.host : dest.host
        // Both registries are loopback http, so HTTP_PROXY would catch both: NO_PROXY keeps the
        // working side direct, and the proxy stands in front of the broken side only.
        const proxyEnv: Record<string, string> = broken.proxy
          ? { HTTP_PROXY: broken.proxy.url, NO_PROXY: other.host }
          : {}
        const run = await runAction(
          { source: `${srcHost}/app:v1`, destination: `${dstHost}/acme/app` },
          { env: { ...FAST, ...proxyEnv }, timeoutMs: RUN_TIMEOUT_MS }
        )
        record(`${side}: ${what}`, run)
        expectCleanFailure(run, side, broken, reason)
        // The case broke what it meant to: the proxy or the silent registry was really asked.
        if (broken.proxy) expect(broken.proxy.connections).toBeGreaterThan(0)
        if (broken.server) expect(broken.server.connections).toBeGreaterThan(0)
        if (side === 'destination') expect(await headDigest(dest, 'acme/app', 'v1')).toBeUndefined()
      } finally {
        await Promise.all([broken.proxy?.stop(), broken.server?.stop()])
      }
    },
    TEST_TIMEOUT_MS
  )
})

describe('cancelling', () => {
  test(
    'SIGTERM while a proxy stalls CONNECT ends the run at once with exit 1 and says it was cancelled',
    async () => {
      const proxy = await startStallingProxy()
      try {
        // Waits long enough that only the cancel can end the run before runAction's SIGKILL.
        const env = {
          ...FAST,
          ECR_PROMOTE_CONNECT_TIMEOUT_MS: '120000',
          ECR_PROMOTE_RESPONSE_TIMEOUT_MS: '120000',
          ECR_PROMOTE_REACH_BUDGET_MS: '300000',
          HTTP_PROXY: proxy.url,
          NO_PROXY: dest.host
        }
        // SIGTERM 1 s after spawn, and not before the proxy holds the CONNECT: on a slow machine an
        // earlier signal could land before the action listens for it, which is not this case.
        const onSpawn = (child: ChildProcess) => {
          const spawned = new Promise((resolve) => setTimeout(resolve, 1000))
          let exited = false
          child.once('exit', () => (exited = true))
          void Promise.all([spawned, proxy.waitForRequests(1)]).then(() => {
            if (!exited) child.kill('SIGTERM')
          })
        }
        const run = await runAction(
          { source: `${source.host}/app:v1`, destination: `${dest.host}/acme/cancelled` },
          { env, timeoutMs: 20_000, onSpawn }
        )
        record('cancel', run)
        // 1, not 'SIGKILL': the action stopped on its own once told to, without waiting out a timeout.
        expect(run.code).toBe(1)
        expect(errorsOf(run).join('\n')).toMatch(/cancel/i)
        expect(run.outputs.digest).toBeUndefined()
        expect(await headDigest(dest, 'acme/cancelled', 'v1')).toBeUndefined()
      } finally {
        await proxy.stop()
      }
    },
    TEST_TIMEOUT_MS
  )
})
