// The ECR side of an end-to-end test, as aws-dockerhub.test.ts sets it up: a real docker-registry
// serving TLS under the ECR host name (123456789012.dkr.ecr.us-east-1.amazonaws.com) behind an HTTPS
// CONNECT proxy, trusted through a test CA in NODE_EXTRA_CA_CERTS, and the fake OIDC/STS/ECR API.
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
  stop(): Promise<void>
}

/**
 * Starts the ECR registry, the fake AWS (with `ambientKeys` known as already issued), the CONNECT
 * proxy and, with `destination`, a plain registry to promote to. With `slowLinkMs` the registry also
 * answers as ECR_SLOW_HOST, through a link with that much latency each way.
 */
export async function startEcrEnv({
  name,
  destination = false,
  ambientKeys,
  slowLinkMs
}: {
  name: string
  destination?: boolean
  ambientKeys?: { accessKeyId: string; secretAccessKey: string }
  slowLinkMs?: number
}): Promise<EcrEnv> {
  const dir = mkdtempSync(join(tmpdir(), `ecr-promote-${name}-`))
  const pki = makeTestPki(dir, slowLinkMs === undefined ? [ECR_HOST] : [ECR_HOST, ECR_SLOW_HOST])
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
  const proxy = await startConnectProxy({
    [`${ECR_HOST}:443`]: ecr.host,
    ...(slowLink ? { [`${ECR_SLOW_HOST}:443`]: slowLink.host } : {})
  })
  const baseEnv = (extra: Record<string, string> = {}) => ({
    HTTPS_PROXY: proxy.url,
    NO_PROXY: '127.0.0.1,localhost',
    NODE_EXTRA_CA_CERTS: pki.caPath,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    GITHUB_REPOSITORY: 'acme/app',
    GITHUB_RUN_ID: '4242',
    ...aws.endpointEnv,
    ...extra
  })
  return {
    dir,
    caPath: pki.caPath,
    ecr,
    ecrLog: recordRequests(ecr),
    ecrNamed: { ...ecr, host: ECR_HOST },
    dest,
    destLog: dest ? recordRequests(dest) : undefined,
    aws,
    proxy,
    baseEnv,
    env: (extra = {}) => baseEnv({ ...aws.oidcEnv, ...extra }),
    async stop() {
      await Promise.all([ecr.stop(), dest?.stop(), proxy.stop(), slowLink?.stop(), aws.stop()])
      rmSync(dir, { recursive: true, force: true })
    }
  }
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
