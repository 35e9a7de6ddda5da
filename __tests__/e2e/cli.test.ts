// The command line as a Jenkins agent runs it: dist/cli.js copied alone into an empty directory (no
// node_modules, no package.json), `node cli.js SOURCE DESTINATION …`, against real registries and,
// for ECR, the local STS/ECR fakes behind a TLS proxy as in aws-dockerhub.test.ts.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { spawn } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { startRegistry, USERS } from '../../scripts/lib/registries.mjs'
import { headDigest, seedImage } from '../../scripts/lib/images.mjs'
import { ROOT } from '../../scripts/lib/action.mjs'
import { makeTestPki } from '../../scripts/lib/tls.mjs'
import { startConnectProxy } from '../../scripts/lib/connect-proxy.mjs'
import { ECR_BCRYPT, ECR_HOST, ECR_PASSWORD, ROLE, startFakeAws } from '../../scripts/lib/fake-aws.mjs'
import { startStallingProxy } from '../../scripts/lib/bad-servers.mjs'

type Registry = Awaited<ReturnType<typeof startRegistry>>
let dir: string
let work: string
let source: Registry
let dest: Registry
let ecr: Registry
let proxy: Awaited<ReturnType<typeof startConnectProxy>>
let aws: Awaited<ReturnType<typeof startFakeAws>>
let caPath: string
let image: Awaited<ReturnType<typeof seedImage>>
const ambientKeys = {
  accessKeyId: 'AKIACLIAMBIENT000001',
  secretAccessKey: 'cli-ambient-secret-DO-NOT-PRINT'
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ecr-promote-cli-'))
  work = mkdtempSync(join(tmpdir(), 'ecr-promote-cli-alone-'))
  // The one file, alone: what a Jenkins agent downloads.
  copyFileSync(join(ROOT, 'dist', 'cli.js'), join(work, 'cli.js'))
  const pki = makeTestPki(dir, [ECR_HOST])
  caPath = pki.caPath
  ;[source, dest, ecr, aws] = await Promise.all([
    startRegistry({ auth: 'basic', name: 'cli-src' }),
    startRegistry({ auth: 'token', name: 'cli-dst' }),
    startRegistry({
      auth: 'basic',
      tls: pki,
      name: 'cli-ecr',
      users: { AWS: { password: ECR_PASSWORD, bcrypt: ECR_BCRYPT, actions: ['pull', 'push'] } }
    }),
    startFakeAws({ ambientKeys })
  ])
  proxy = await startConnectProxy({ [`${ECR_HOST}:443`]: ecr.host })
  image = await seedImage(source, 'app', '1.4.2', {
    platforms: ['linux/amd64', 'linux/arm64'],
    layers: [4096]
  })
  await seedImage(ecr, 'app', '1.4.2', { platforms: ['linux/amd64'], layers: [2048], index: false })
})

afterAll(async () => {
  await Promise.all([source?.stop(), dest?.stop(), ecr?.stop(), proxy?.stop(), aws?.stop()])
  for (const d of [dir, work]) if (d) rmSync(d, { recursive: true, force: true })
})

interface Run {
  code: number | string
  stdout: string
  stderr: string
}

function cli(
  args: string[],
  env: Record<string, string> = {},
  options: { stdin?: string; onSpawn?: (child: ReturnType<typeof spawn>) => void } = {}
): Promise<Run> {
  const child = spawn(process.execPath, ['cli.js', ...args], {
    cwd: work,
    env: { PATH: process.env.PATH, HOME: work, ...env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  options.onSpawn?.(child)
  child.stdin.end(options.stdin ?? '')
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code: code ?? String(signal), stdout, stderr })
    })
  )
}

const srcCreds = { ECR_PROMOTE_SOURCE_USERNAME: 'reader', ECR_PROMOTE_SOURCE_PASSWORD: USERS.reader.password }
const dstArgs = ['--destination-username', 'promoter']
const dstEnv = { ECR_PROMOTE_DESTINATION_PASSWORD: USERS.promoter.password }

function expectNoSecrets(run: Run, files: string[] = [], extra: string[] = []) {
  const seen = [run.stdout, run.stderr, ...files.map((f) => readFileSync(f, 'utf8'))].join('\n')
  const secrets = [
    USERS.promoter.password,
    USERS.reader.password,
    ambientKeys.secretAccessKey,
    ...aws.state.secrets,
    ...dest.tokenServer!.state.issued,
    ...extra
  ]
  for (const secret of secrets) {
    expect(seen).not.toContain(secret)
    expect(seen).not.toContain(Buffer.from(secret).toString('base64'))
  }
}

describe('node cli.js, alone in a directory', () => {
  test('promotes; --output json, --dotenv and --results-dir tell the result; the log is on stderr', async () => {
    expect(readdirSync(work)).toEqual(['cli.js'])
    const dotenv = join(work, 'promote.env')
    const results = join(work, 'results')
    const run = await cli(
      [
        `${source.host}/app:1.4.2`,
        `${dest.host}/acme/app`,
        ...dstArgs,
        '--floating-tags',
        'latest',
        '--output',
        'json',
        '--dotenv',
        dotenv,
        '--results-dir',
        results
      ],
      { ...srcCreds, ...dstEnv }
    )
    expect(run.stderr).not.toMatch(/::group::/)
    expect(run.code).toBe(0)
    const out = JSON.parse(run.stdout)
    expect(out).toMatchObject({
      digest: image.digest,
      image: `${dest.host}/acme/app@${image.digest}`,
      result: 'copied',
      tags: ['1.4.2', 'latest'],
      platforms: ['linux/amd64', 'linux/arm64']
    })
    expect(out.copied.blobs).toBe(image.blobs.size)
    expect(out.tagOutcomes.map((t: { outcome: string }) => t.outcome)).toEqual(['written', 'written'])
    expect(run.stderr).toMatch(/== Copy content/)
    expect(await headDigest(dest, 'acme/app', 'latest')).toBe(image.digest)
    expect(readFileSync(dotenv, 'utf8')).toBe(
      `ECR_PROMOTE_DIGEST=${image.digest}\nECR_PROMOTE_IMAGE=${dest.host}/acme/app@${image.digest}\nECR_PROMOTE_RESULT=copied\nECR_PROMOTE_TAGS=1.4.2,latest\n`
    )
    expect(readFileSync(join(results, 'IMAGE_DIGEST'), 'utf8')).toBe(image.digest)
    expect(readFileSync(join(results, 'IMAGE_URL'), 'utf8')).toBe(`${dest.host}/acme/app:1.4.2`)
    expectNoSecrets(run, [dotenv])

    const again = await cli([`${source.host}/app:1.4.2`, `${dest.host}/acme/app`, ...dstArgs], {
      ...srcCreds,
      ...dstEnv
    })
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/^result unchanged; digest sha256:/)
  })

  test('the password from stdin', async () => {
    const run = await cli(
      [`${source.host}/app:1.4.2`, `${dest.host}/acme/stdin`, ...dstArgs, '--destination-password-stdin'],
      srcCreds,
      { stdin: `${USERS.promoter.password}\n` }
    )
    expect(run.stderr).toBe(run.stderr.replace(USERS.promoter.password, ''))
    expect(run.code).toBe(0)
    expect(await headDigest(dest, 'acme/stdin', '1.4.2')).toBe(image.digest)
  })

  test.each([
    [
      'bad usage, before any network call',
      ['only-one-argument'],
      {},
      2,
      /ecr-promote: --source "only-one-argument" has neither a tag nor a digest/
    ],
    ['a password as a flag', ['a/b:1', 'c/d', '--destination-password', 'x'], {}, 2, /is not accepted/],
    ['a tag conflict with --if-exists fail', 'conflict', {}, 3, /tag "1.4.2" points at sha256:/],
    ['credentials refused', 'refused', {}, 4, /refused the credentials/],
    [
      'anything else (nothing listens there)',
      'unreachable',
      { ECR_PROMOTE_REACH_BUDGET_MS: '500' },
      1,
      /cannot reach 127\.0\.0\.1:9: connection refused/
    ]
  ])('exit code for %s', async (_what, args, env, code, message) => {
    let argv = args as string[]
    if (args === 'conflict') {
      await seedImage(dest, 'acme/taken', '1.4.2', { layers: [99], index: false, seed: 'other' })
      argv = [`${source.host}/app:1.4.2`, `${dest.host}/acme/taken`, ...dstArgs]
    }
    if (args === 'refused') argv = [`${source.host}/app:1.4.2`, `${dest.host}/acme/app`, ...dstArgs]
    if (args === 'unreachable') argv = ['127.0.0.1:9/app:1', `${dest.host}/acme/app`, ...dstArgs]
    const run = await cli(argv, {
      ...srcCreds,
      ...dstEnv,
      ...(args === 'refused' ? { ECR_PROMOTE_DESTINATION_PASSWORD: 'wrong-password' } : {}),
      ...env
    })
    expect(run.code).toBe(code)
    expect(run.stderr).toMatch(message)
    expectNoSecrets(run)
  })

  test('--output json on failure: result failed and the error', async () => {
    const run = await cli([`${source.host}/app:nope`, `${dest.host}/acme/app`, '--output', 'json'], srcCreds)
    expect(run.code).toBe(1)
    expect(JSON.parse(run.stdout)).toEqual({
      result: 'failed',
      error: expect.stringMatching(/tag nope not found/)
    })
  })

  test('ECR through the default credential chain (keys in the environment)', async () => {
    const before = aws.state.ecrCalls.length
    const run = await cli([`${ECR_HOST}/app:1.4.2`, `${dest.host}/acme/from-ecr`, ...dstArgs], {
      ...dstEnv,
      ...aws.endpointEnv,
      AWS_ACCESS_KEY_ID: ambientKeys.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ambientKeys.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
      HTTPS_PROXY: proxy.url,
      NO_PROXY: '127.0.0.1',
      NODE_EXTRA_CA_CERTS: caPath
    })
    expect(run.stderr).toMatch(/ECR login for .* obtained/)
    expect(run.code).toBe(0)
    expect(aws.state.ecrCalls.slice(before).map((c) => c.keyId)).toEqual([ambientKeys.accessKeyId])
    expectNoSecrets(run)
  })

  test('ECR with a role assumed through a web identity token in an environment variable (GitLab id_tokens)', async () => {
    // The token a GitLab job gets in its id_tokens variable: here, one the fake identity provider issued.
    const response = await request(`${aws.oidcEnv.ACTIONS_ID_TOKEN_REQUEST_URL}&audience=sts.amazonaws.com`, {
      headers: { authorization: `Bearer ${aws.oidcEnv.ACTIONS_ID_TOKEN_REQUEST_TOKEN}` }
    })
    const token = ((await response.body.json()) as { value: string }).value
    const stsBefore = aws.state.stsCalls.length
    const run = await cli(
      [
        `${ECR_HOST}/app:1.4.2`,
        `${dest.host}/acme/from-gitlab`,
        ...dstArgs,
        '--role-to-assume',
        ROLE,
        '--web-identity-token-env',
        'GITLAB_OIDC_TOKEN',
        '--output',
        'json'
      ],
      {
        ...dstEnv,
        ...aws.endpointEnv,
        GITLAB_OIDC_TOKEN: token,
        AWS_EC2_METADATA_DISABLED: 'true',
        HTTPS_PROXY: proxy.url,
        NO_PROXY: '127.0.0.1',
        NODE_EXTRA_CA_CERTS: caPath
      }
    )
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout).result).toBe('copied')
    expect(aws.state.stsCalls.slice(stsBefore).map((c) => c.roleArn)).toEqual([ROLE])
    expect(run.stderr).toMatch(/assumed role/)
    expectNoSecrets(run, [], [token])
  })

  test.each(['file', 'github'])(
    'ECR with a role assumed through a web identity token from a %s',
    async (from) => {
      const tokenFile = join(work, 'token')
      let extraArgs: string[] = []
      let extraEnv: Record<string, string> = {}
      if (from === 'file') {
        const response = await request(
          `${aws.oidcEnv.ACTIONS_ID_TOKEN_REQUEST_URL}&audience=sts.amazonaws.com`,
          {
            headers: { authorization: `Bearer ${aws.oidcEnv.ACTIONS_ID_TOKEN_REQUEST_TOKEN}` }
          }
        )
        writeFileSync(tokenFile, ((await response.body.json()) as { value: string }).value)
        extraArgs = ['--web-identity-token-file', tokenFile]
      } else {
        // Inside GitHub Actions with neither flag: the job's OIDC endpoint, as the action uses it.
        extraEnv = { ...aws.oidcEnv, GITHUB_ACTIONS: 'true' }
      }
      const oidcBefore = aws.state.oidcRequests
      const run = await cli(
        [
          `${ECR_HOST}/app:1.4.2`,
          `${dest.host}/acme/from-${from}`,
          ...dstArgs,
          '--role-to-assume',
          ROLE,
          ...extraArgs
        ],
        {
          ...dstEnv,
          ...aws.endpointEnv,
          ...extraEnv,
          AWS_EC2_METADATA_DISABLED: 'true',
          HTTPS_PROXY: proxy.url,
          NO_PROXY: '127.0.0.1',
          NODE_EXTRA_CA_CERTS: caPath
        }
      )
      expect(run.code).toBe(0)
      expect(run.stderr).toMatch(/assumed role/)
      expect(aws.state.oidcRequests - oidcBefore).toBe(from === 'github' ? 1 : 0)
      if (from === 'github') expect(run.stderr).toMatch(/::group::/)
      expectNoSecrets(run)
    }
  )

  test('--role-to-assume without a token source outside GitHub Actions is a usage error', async () => {
    const run = await cli([`${ECR_HOST}/app:1.4.2`, 'c/d', '--role-to-assume', ROLE])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/--role-to-assume needs a web identity token/)
  })

  test('SIGTERM cancels promptly with exit 143; no tag is written', async () => {
    const stalled = await startStallingProxy()
    try {
      const run = await cli(
        [`${source.host}/app:1.4.2`, `${dest.host}/acme/cancelled`, ...dstArgs],
        {
          ...srcCreds,
          ...dstEnv,
          HTTP_PROXY: stalled.url,
          ECR_PROMOTE_CONNECT_TIMEOUT_MS: '120000',
          ECR_PROMOTE_REACH_BUDGET_MS: '300000'
        },
        { onSpawn: (child) => setTimeout(() => child.kill('SIGTERM'), 1500) }
      )
      expect(run.code).toBe(143)
      expect(run.stderr).toMatch(/cancel/)
      expect(await headDigest(dest, 'acme/cancelled', '1.4.2')).toBeUndefined()
    } finally {
      await stalled.stop()
    }
  })

  test('--help lists every option and the exit codes; --version', async () => {
    const help = await cli(['--help'])
    expect(help.code).toBe(0)
    for (const flag of [
      '--tags',
      '--floating-tags',
      '--if-exists',
      '--dry-run',
      '--concurrency',
      '--source-username',
      '--destination-username',
      '--role-to-assume',
      '--role-session-name',
      '--role-duration-seconds',
      '--aws-region',
      '--audience',
      '--web-identity-token-env',
      '--web-identity-token-file',
      '--output',
      '--dotenv',
      '--results-dir',
      '--destination-password-stdin'
    ]) {
      expect(help.stdout).toContain(flag)
    }
    expect(help.stdout).toMatch(/Exit codes:[\s\S]*3 {2}a guarded tag/)
    const version = await cli(['--version'])
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
    expect(existsSync(join(work, 'package.json'))).toBe(false)
  })
})
