// README's command-line examples, run as written: each `node cli.js …` line of the Jenkins, GitLab CI,
// Codefresh and Tekton examples, through `sh -c`, with its CI's variables filled in, against real
// registries serving TLS under the real host names (123456789012.dkr.ecr.us-east-1.amazonaws.com,
// registry-1.docker.io, auth.docker.io) behind a local HTTPS proxy, and the local STS/ECR fakes.
// IRSA and the runner roles are stood in for by keys in the environment (the same default chain).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { spawn } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { headDigest, seedImage } from '../../scripts/lib/images.mjs'
import { ROOT } from '../../scripts/lib/action.mjs'
import {
  DOCKER_HUB_HOSTS,
  startDockerHub,
  startEcrEnv,
  type EcrEnv,
  type FakeAws,
  type Registry
} from '../support/ecr-env.js'

const HUB_TOKEN = 'dckr_pat_example-Test-Only-1'
const keys = {
  AWS_ACCESS_KEY_ID: 'AKIAEXAMPLES00000001',
  AWS_SECRET_ACCESS_KEY: 'examples-secret-DO-NOT-PRINT'
}
let env: EcrEnv
let work: string
let hub: Registry
let aws: FakeAws
const images: Record<string, string> = {}

/** The `node cli.js …` command of each example in README's command-line section. */
function exampleCommands(): Record<string, string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Command line'), readme.indexOf('## Performance'))
  const commands: Record<string, string> = {}
  for (const name of ['Jenkins', 'GitLab CI', 'Codefresh', 'Tekton']) {
    const from = section.indexOf(`**${name}**`)
    const line = section
      .slice(from)
      .split('\n')
      .find((l) => l.includes('node cli.js '))!
    commands[name] = line.replace(/^.*?(node cli\.js [^'\n]*).*$/, '$1').trim()
  }
  return commands
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ecr-promote-examples-run-'))
  copyFileSync(join(ROOT, 'dist', 'cli.js'), join(work, 'cli.js'))
  env = await startEcrEnv({
    name: 'examples',
    tlsHosts: DOCKER_HUB_HOSTS,
    ambientKeys: { accessKeyId: keys.AWS_ACCESS_KEY_ID, secretAccessKey: keys.AWS_SECRET_ACCESS_KEY }
  })
  aws = env.aws
  hub = await startDockerHub(env, {
    name: 'ex-hub',
    users: { acme: { password: HUB_TOKEN, bcrypt: '', actions: ['pull', 'push'] } }
  })
  for (const tag of ['1.4.2', '1.4.3', '1.4.4', '1.4.5']) {
    images[tag] = (
      await seedImage(env.ecr, 'app', tag, { layers: [1024 + Number(tag.slice(-1))], index: false })
    ).digest
  }
})

afterAll(async () => {
  await env?.stop()
  if (work) rmSync(work, { recursive: true, force: true })
})

/** `command` through `sh -c` in `work`, in another CI than GitHub Actions, with `vars` set. */
function sh(
  command: string,
  vars: Record<string, string>
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('sh', ['-c', command], {
    cwd: work,
    env: { PATH: process.env.PATH, HOME: work, ...env.ciEnv(vars) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  return new Promise((resolve) =>
    child.on('close', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr })))
  )
}

describe("README's command-line examples", () => {
  const commands = exampleCommands()

  test('each CI has an example command', () => {
    expect(Object.keys(commands)).toEqual(['Jenkins', 'GitLab CI', 'Codefresh', 'Tekton'])
    for (const command of Object.values(commands))
      expect(command).toMatch(/^node cli\.js \S+ docker\.io\/acme\/app /)
  })

  test('Jenkins: the default chain, the token from credentials(), JSON on stdout', async () => {
    const run = await sh(commands.Jenkins, {
      TAG: '1.4.2',
      ECR_PROMOTE_DESTINATION_PASSWORD: HUB_TOKEN,
      ...keys
    })
    expect(run.stderr).not.toContain(HUB_TOKEN)
    expect(run.code).toBe(0)
    expect(JSON.parse(readFileSync(join(work, 'promote.json'), 'utf8'))).toMatchObject({
      result: 'copied',
      digest: images['1.4.2']
    })
    expect(await headDigest(hub, 'acme/app', 'latest')).toBe(images['1.4.2'])
  })

  test('GitLab CI: the role assumed with the id_tokens token; the dotenv report', async () => {
    const answer = await request(`${aws.oidcEnv.ACTIONS_ID_TOKEN_REQUEST_URL}&audience=sts.amazonaws.com`, {
      headers: { authorization: `Bearer ${aws.oidcEnv.ACTIONS_ID_TOKEN_REQUEST_TOKEN}` }
    })
    const token = ((await answer.body.json()) as { value: string }).value
    const run = await sh(commands['GitLab CI'], {
      CI_COMMIT_TAG: '1.4.3',
      AWS_OIDC_TOKEN: token,
      ECR_PROMOTE_DESTINATION_PASSWORD: HUB_TOKEN
    })
    expect(run.code).toBe(0)
    expect(run.stderr).toMatch(/assumed role/)
    expect(run.stderr + run.stdout).not.toContain(token)
    expect(readFileSync(join(work, 'promote.env'), 'utf8')).toContain(`ECR_PROMOTE_DIGEST=${images['1.4.3']}`)
  })

  test('Codefresh: the runner role, --if-exists skip', async () => {
    const command = commands.Codefresh.replace('${{CF_BRANCH_TAG_NORMALIZED}}', '1.4.4')
    const run = await sh(command, { ECR_PROMOTE_DESTINATION_PASSWORD: HUB_TOKEN, ...keys })
    expect(run.code).toBe(0)
    expect(await headDigest(hub, 'acme/app', '1.4.4')).toBe(images['1.4.4'])
  })

  test('Tekton: results written where the Task declares them', async () => {
    const results = join(work, 'tekton-results')
    const command = commands.Tekton.replace('$(params.tag)', '1.4.5').replace('/tekton/results', results)
    const run = await sh(command, { ECR_PROMOTE_DESTINATION_PASSWORD: HUB_TOKEN, ...keys })
    expect(run.code).toBe(0)
    expect(readFileSync(join(results, 'IMAGE_DIGEST'), 'utf8')).toBe(images['1.4.5'])
    expect(readFileSync(join(results, 'IMAGE_URL'), 'utf8')).toBe('docker.io/acme/app:1.4.5')
  })
})
