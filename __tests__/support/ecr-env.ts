// The environment of an end-to-end test: a real docker-registry serving TLS under the ECR host name
// (123456789012.dkr.ecr.us-east-1.amazonaws.com) behind an HTTPS CONNECT proxy, trusted through a
// test CA in NODE_EXTRA_CA_CERTS, and the fake OIDC/STS/ECR API. Other servers under real host names
// (Docker Hub, public.ecr.aws, ...) join it through `tlsHosts` and `serve`.
// Every registry here keeps its access log, so a test can tell whether a write request reached it.
import { expect } from '@jest/globals'
import { mkdtempSync, rmSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { startRegistry } from '../../scripts/lib/registries.mjs'
import { headDigest } from '../../scripts/lib/images.mjs'
import { makeTestPki } from '../../scripts/lib/tls.mjs'
import { startConnectProxy } from '../../scripts/lib/connect-proxy.mjs'
import { startDelayForwarder } from '../../scripts/lib/delay-forwarder.mjs'
import {
  ACCOUNT,
  ECR_BCRYPT,
  ECR_HOST,
  ECR_PASSWORD,
  ROLE,
  startFakeAws
} from '../../scripts/lib/fake-aws.mjs'

export type Registry = Awaited<ReturnType<typeof startRegistry>>
export type RegistryOptions = NonNullable<Parameters<typeof startRegistry>[0]>
export type TestPki = ReturnType<typeof makeTestPki>

/**
 * Another region's registry of the account, when startEcrEnv is given `slowLinkMs`: the same
 * registry as ECR_HOST (same repositories, same login), reached over a link that adds that latency
 * each way, so every request of a source named with it is slow.
 */
export const ECR_SLOW_HOST = `${ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com`
export type FakeAws = Awaited<ReturnType<typeof startFakeAws>>

/** One request as the registry's access log tells it. */
export interface LoggedRequest {
  method: string
  path: string
  status: number
}

/** The requests a registry served, read from its access log (startRegistry({ accessLog: true })). */
export interface RequestLog {
  readonly requests: LoggedRequest[]
  /** Where the log is now: pass it to writesSince to see only what came after. */
  mark(): number
  /** Waits until every request served so far is in the log (the log is written after the answer). */
  settle(): Promise<void>
  /** Requests other than GET and HEAD under /v2/<repository>/ after `mark` (uploads, manifests, deletes). */
  writesSince(mark: number, repository: string): Promise<LoggedRequest[]>
}

export function recordRequests(registry: Registry): RequestLog {
  const requests: LoggedRequest[] = []
  let partial = ''
  const stdout = registry.process.stdout
  if (!stdout) throw new Error(`registry ${registry.host} was started without accessLog: true`)
  stdout.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      const m = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3})/.exec(line)
      if (m) requests.push({ method: m[1], path: m[2], status: Number(m[3]) })
    }
  })
  const settle = async () => {
    const sentinel = `/v2/?settle=${randomUUID()}`
    const res = await request(`${registry.url}${sentinel}`, { dispatcher: registry.dispatcher })
    await res.body.dump()
    const deadline = Date.now() + 5000
    while (!requests.some((r) => r.path === sentinel)) {
      if (Date.now() > deadline)
        throw new Error(`the access log of ${registry.host} did not show ${sentinel}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  return {
    requests,
    mark: () => requests.length,
    settle,
    async writesSince(mark, repository) {
      await settle()
      return requests
        .slice(mark)
        .filter((r) => r.path.startsWith(`/v2/${repository}/`) && r.method !== 'GET' && r.method !== 'HEAD')
    }
  }
}

export interface EcrEnv {
  dir: string
  caPath: string
  /** The test CA's server certificate (ECR_HOST and the `tlsHosts`), for further servers to serve. */
  tls: TestPki
  /** The registry behind ECR_HOST (user AWS, the password GetAuthorizationToken hands out). */
  ecr: Registry
  ecrLog: RequestLog
  /** `ecr` as fixtures should name it (host ECR_HOST), e.g. in a cosign payload's docker-reference. */
  ecrNamed: Registry
  /** A plain destination registry on 127.0.0.1 (basic auth, USERS.promoter may push), when asked for. */
  dest?: Registry
  destLog?: RequestLog
  aws: FakeAws
  proxy: Awaited<ReturnType<typeof startConnectProxy>>
  /** What the runner's environment holds: proxy, CA, no AWS config, the fake endpoints, and OIDC. */
  env(extra?: Record<string, string>): Record<string, string>
  /** The same without the OIDC variables (for the command line, with ambient keys). */
  baseEnv(extra?: Record<string, string>): Record<string, string>
  /** The same without GITHUB_REPOSITORY and GITHUB_RUN_ID either (another CI than GitHub Actions). */
  ciEnv(extra?: Record<string, string>): Record<string, string>
  /**
   * Has the proxy tunnel `routes` (e.g. { 'public.ecr.aws:443': gallery.host }) from the next CONNECT
   * on, in place of any earlier route of the same name, and stops `service` with the rest. Returns it.
   */
  serve<T extends { stop(): Promise<unknown> }>(service: T, routes: Record<string, string>): T
  stop(): Promise<void>
}

/**
 * Starts the ECR registry, the fake AWS (with `ambientKeys` known as already issued), the CONNECT
 * proxy and, with `destination`, a plain registry to promote to. With `slowLinkMs` the registry also
 * answers as ECR_SLOW_HOST, through a link with that much latency each way. The test certificate
 * also names `tlsHosts`, for servers a test adds with `serve`.
 */
export async function startEcrEnv({
  name,
  destination = false,
  ambientKeys,
  slowLinkMs,
  tlsHosts = []
}: {
  name: string
  destination?: boolean
  ambientKeys?: { accessKeyId: string; secretAccessKey: string }
  slowLinkMs?: number
  tlsHosts?: string[]
}): Promise<EcrEnv> {
  const dir = mkdtempSync(join(tmpdir(), `ecr-promote-${name}-`))
  const pki = makeTestPki(dir, [ECR_HOST, ...(slowLinkMs === undefined ? [] : [ECR_SLOW_HOST]), ...tlsHosts])
  const [ecr, aws, dest] = await Promise.all([
    startRegistry({
      auth: 'basic',
      tls: pki,
      name: `${name}-ecr`,
      accessLog: true,
      users: { AWS: { password: ECR_PASSWORD, bcrypt: ECR_BCRYPT, actions: ['pull', 'push'] } }
    }),
    startFakeAws({ ambientKeys }),
    destination
      ? startRegistry({ auth: 'basic', name: `${name}-dst`, accessLog: true })
      : Promise.resolve(undefined)
  ])
  const slowLink = slowLinkMs === undefined ? undefined : await startDelayForwarder(ecr.host, slowLinkMs)
  // startConnectProxy looks each CONNECT target up in this object, so `serve` can add to it.
  const routes: Record<string, string> = {
    [`${ECR_HOST}:443`]: ecr.host,
    ...(slowLink ? { [`${ECR_SLOW_HOST}:443`]: slowLink.host } : {})
  }
  const proxy = await startConnectProxy(routes)
  const services: { stop(): Promise<unknown> }[] = []
  const ciEnv = (extra: Record<string, string> = {}) => ({
    HTTPS_PROXY: proxy.url,
    NO_PROXY: '127.0.0.1,localhost',
    NODE_EXTRA_CA_CERTS: pki.caPath,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    ...aws.endpointEnv,
    ...extra
  })
  const baseEnv = (extra: Record<string, string> = {}) =>
    ciEnv({ GITHUB_REPOSITORY: 'acme/app', GITHUB_RUN_ID: '4242', ...extra })
  return {
    dir,
    caPath: pki.caPath,
    tls: pki,
    ecr,
    ecrLog: recordRequests(ecr),
    ecrNamed: { ...ecr, host: ECR_HOST },
    dest,
    destLog: dest ? recordRequests(dest) : undefined,
    aws,
    proxy,
    ciEnv,
    baseEnv,
    env: (extra = {}) => baseEnv({ ...aws.oidcEnv, ...extra }),
    serve(service, more) {
      services.push(service)
      Object.assign(routes, more)
      return service
    },
    async stop() {
      await Promise.all([
        ecr.stop(),
        dest?.stop(),
        proxy.stop(),
        slowLink?.stop(),
        aws.stop(),
        ...services.map((s) => s.stop())
      ])
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** The host names Docker Hub is reached by (its registry and its token server), for `tlsHosts`. */
export const DOCKER_HUB_HOSTS = ['registry-1.docker.io', 'auth.docker.io']

/**
 * Docker Hub in `env` (started with `tlsHosts` holding DOCKER_HUB_HOSTS): a token-auth registry as
 * registry-1.docker.io whose token server answers as https://auth.docker.io/token for the service
 * registry.docker.io, stopped with the rest. `options` go to startRegistry (users, grants, lifetime).
 */
export async function startDockerHub(
  env: EcrEnv,
  options: Omit<RegistryOptions, 'auth' | 'tls' | 'tokenRealm' | 'tokenService'> = {}
): Promise<Registry> {
  const hub = await startRegistry({
    name: 'hub',
    ...options,
    auth: 'token',
    tls: env.tls,
    tokenRealm: 'https://auth.docker.io/token',
    tokenService: 'registry.docker.io'
  })
  return env.serve(hub, {
    'registry-1.docker.io:443': hub.host,
    'auth.docker.io:443': hub.tokenServer!.host
  })
}

/** The inputs of a promotion from ECR with the workflow's OIDC role. */
export function ecrInputs(overrides: Record<string, string> = {}): Record<string, string> {
  return { source: `${ECR_HOST}/app:1.4.2`, 'role-to-assume': ROLE, ...overrides }
}

/** The inputs of a release set from ECR (one `SOURCE DESTINATION` per line) with the workflow's OIDC role. */
export function ecrSetInputs(
  lines: string[],
  overrides: Record<string, string> = {}
): Record<string, string> {
  return { images: lines.join('\n'), 'role-to-assume': ROLE, ...overrides }
}

/**
 * Nothing reached `repository` at `registry` after `mark` but reads (no upload, no manifest, no
 * delete), and each of `tags` is where it was: absent (undefined) or at the digest given.
 */
export async function expectUntouched(
  registry: Registry,
  log: RequestLog,
  mark: number,
  repository: string,
  tags: Record<string, string | undefined>
): Promise<void> {
  expect(await log.writesSince(mark, repository)).toEqual([])
  for (const [tag, digest] of Object.entries(tags)) {
    expect([tag, await headDigest(registry, repository, tag)]).toEqual([tag, digest])
  }
}
