// The whole path of a real release job, with only the unreachable parts stood in for: the GitHub OIDC
// endpoint, STS and the ECR API are local fakes answering the real wire formats; the registries are
// real docker-registry processes serving TLS under the real host names
// (123456789012.dkr.ecr.us-east-1.amazonaws.com, registry-1.docker.io, auth.docker.io), reached
// through an HTTPS proxy given in HTTPS_PROXY, trusted through a test CA in NODE_EXTRA_CA_CERTS.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { USERS } from '../../scripts/lib/registries.mjs'
import { headDigest, seedImage } from '../../scripts/lib/images.mjs'
import { errorsOf, runAction } from '../../scripts/lib/action.mjs'
import { expectNoSecrets } from '../support/helpers.js'
import { ECR_HOST, ROLE, SUBJECT } from '../../scripts/lib/fake-aws.mjs'
import {
  DOCKER_HUB_HOSTS,
  startDockerHub,
  startEcrEnv,
  type EcrEnv,
  type FakeAws,
  type Registry
} from '../support/ecr-env.js'

const ambientKeys = {
  accessKeyId: 'AKIAAMBIENTEXAMPLE01',
  secretAccessKey: 'ambient-secret-key-DO-NOT-PRINT'
}
let env: EcrEnv
let hub: Registry
let proxy: EcrEnv['proxy']
let aws: FakeAws
let image: Awaited<ReturnType<typeof seedImage>>

beforeAll(async () => {
  env = await startEcrEnv({ name: 'aws-hub', tlsHosts: DOCKER_HUB_HOSTS, ambientKeys })
  ;({ proxy, aws } = env)
  hub = await startDockerHub(env, {
    // As Docker Hub: nobody here may use namespace othercorp (answered 401 on any request there).
    grants: (user: string, repository: string) =>
      repository.startsWith('othercorp/')
        ? []
        : user === 'anonymous'
          ? ['pull']
          : USERS[user as keyof typeof USERS].actions
  })
  image = await seedImage(env.ecr, 'app', '1.4.2', {
    platforms: ['linux/amd64', 'linux/arm64'],
    sharedLayers: [1024 * 1024],
    layers: [256 * 1024],
    format: 'oci'
  })
})

afterAll(async () => {
  await env?.stop()
})

/** The runner's environment without OIDC (proxy, CA, no AWS config, the fake endpoints). */
const baseEnv = () => env.baseEnv()

const hubLogin = { 'destination-username': 'promoter', 'destination-password': USERS.promoter.password }

function inputs(overrides: Record<string, string> = {}) {
  return {
    source: `${ECR_HOST}/app:1.4.2`,
    destination: 'docker.io/acme/app',
    'role-to-assume': ROLE,
    ...hubLogin,
    ...overrides
  }
}

/** Every secret any party handed out during the file's runs. */
function allSecrets(): string[] {
  return [
    ...aws.state.secrets,
    ...hub.tokenServer!.state.issued,
    USERS.promoter.password,
    USERS.reader.password,
    ambientKeys.secretAccessKey
  ]
}

describe('ECR to Docker Hub over TLS through a proxy', () => {
  test('the full OIDC path: role assumed, ECR login, Docker Hub token, copy by digest', async () => {
    const stsBefore = aws.state.stsCalls.length
    const run = await runAction(inputs({ 'floating-tags': 'latest' }), {
      env: { ...baseEnv(), ...aws.oidcEnv }
    })
    expect(errorsOf(run)).toEqual([])
    expect(run.code).toBe(0)
    expect(run.outputs).toMatchObject({
      digest: image.digest,
      image: `docker.io/acme/app@${image.digest}`,
      result: 'copied',
      tags: '1.4.2,latest',
      platforms: '["linux/amd64","linux/arm64"]'
    })
    expect(await headDigest(hub, 'acme/app', '1.4.2')).toBe(image.digest)
    expect(await headDigest(hub, 'acme/app', 'latest')).toBe(image.digest)
    expect(aws.state.stsCalls.slice(stsBefore)).toEqual([
      { roleArn: ROLE, sessionName: 'ecr-promote-acme-app-4242', duration: '3600' }
    ])
    expect(aws.state.oidcRequests).toBeGreaterThan(0)
    const tunnels = new Set(proxy.tunnels.map((t) => t.target))
    expect(tunnels).toEqual(new Set([`${ECR_HOST}:443`, 'registry-1.docker.io:443', 'auth.docker.io:443']))
    expect(proxy.tunnels.every((t) => t.allowed)).toBe(true)
    expect(run.summary).toContain('docker.io/acme/app@')
    expectNoSecrets(run, allSecrets())
  })

  test('ambient AWS credentials (no role): the SDK default chain logs in to ECR', async () => {
    const stsBefore = aws.state.stsCalls.length
    const ecrBefore = aws.state.ecrCalls.length
    const run = await runAction(inputs({ 'role-to-assume': '', tags: 'ambient' }), {
      env: {
        ...baseEnv(),
        AWS_ACCESS_KEY_ID: ambientKeys.accessKeyId,
        AWS_SECRET_ACCESS_KEY: ambientKeys.secretAccessKey
      }
    })
    expect(errorsOf(run)).toEqual([])
    expect(run.code).toBe(0)
    expect(run.outputs.digest).toBe(image.digest)
    expect(aws.state.stsCalls.length).toBe(stsBefore)
    expect(aws.state.ecrCalls.slice(ecrBefore).map((c) => c.keyId)).toEqual([ambientKeys.accessKeyId])
    expect(await headDigest(hub, 'acme/app', 'ambient')).toBe(image.digest)
    expectNoSecrets(run, allSecrets())
  })

  test('a job without id-token: write fails saying what to add', async () => {
    const run = await runAction(inputs({ tags: 'no-oidc' }), { env: baseEnv() })
    expect(run.code).toBe(1)
    const errors = errorsOf(run)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/permissions: id-token: write/)
    expect(await headDigest(hub, 'acme/app', 'no-oidc')).toBeUndefined()
    expectNoSecrets(run, allSecrets())
  })

  test('a role the token may not assume fails naming the role and the token subject', async () => {
    const wrong = 'arn:aws:iam::123456789012:role/someone-else'
    const run = await runAction(inputs({ 'role-to-assume': wrong, tags: 'wrong-role' }), {
      env: { ...baseEnv(), ...aws.oidcEnv }
    })
    expect(run.code).toBe(1)
    const errors = errorsOf(run)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain(`assume role ${wrong}: AccessDenied`)
    expect(errors[0]).toContain(`sub "${SUBJECT}"`)
    expectNoSecrets(run, allSecrets())
  })

  test('a Docker Hub login refused (401) names what to fix', async () => {
    const run = await runAction(inputs({ 'destination-password': 'not-the-token' }), {
      env: { ...baseEnv(), ...aws.oidcEnv }
    })
    expect(run.code).toBe(1)
    const errors = errorsOf(run)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(
      /authenticate to destination docker\.io: token server auth\.docker\.io refused the credentials.*incorrect username or password \(check destination-username and destination-password: destination-password must be a Docker Hub access token with Read & Write scope/
    )
    expectNoSecrets(run, [...allSecrets(), 'not-the-token'])
  })

  test('a read-only Docker Hub token is refused before any byte is copied', async () => {
    const run = await runAction(
      inputs({
        destination: 'docker.io/acme/readonly',
        'destination-username': 'reader',
        'destination-password': USERS.reader.password
      }),
      { env: { ...baseEnv(), ...aws.oidcEnv } }
    )
    expect(run.code).toBe(1)
    const errors = errorsOf(run)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(
      /did not grant push access; nothing was written\. check destination-username and destination-password: destination-password must be a Docker Hub access token with Read & Write scope, and destination-username the user or organisation that owns namespace acme/
    )
    expect(run.stdout).not.toMatch(/ copied in /)
    expect(await headDigest(hub, 'acme/readonly', '1.4.2')).toBeUndefined()
    expectNoSecrets(run, allSecrets())
  })

  test('a namespace the credentials cannot use is named, with who must own it', async () => {
    const run = await runAction(inputs({ destination: 'docker.io/othercorp/app' }), {
      env: { ...baseEnv(), ...aws.oidcEnv }
    })
    expect(run.code).toBe(1)
    const errors = errorsOf(run)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/check destination tags of docker\.io\/othercorp\/app: .*401/)
    expect(errors[0]).toMatch(
      /Docker Hub refused namespace othercorp: destination-username must be othercorp itself or a member of organisation othercorp with write access to othercorp\/app/
    )
    expectNoSecrets(run, allSecrets())
  })

  describe('the destination tag exists with another digest', () => {
    let other: Awaited<ReturnType<typeof seedImage>>
    beforeAll(async () => {
      other = await seedImage(hub, 'acme/conflict', '1.4.2', { layers: [2048], index: false })
    })
    const run = (ifExists: string) =>
      runAction(inputs({ destination: 'docker.io/acme/conflict', 'if-exists': ifExists }), {
        env: { ...baseEnv(), ...aws.oidcEnv }
      })

    test('fail: exits 1 naming the tag and both digests, the tag keeps its digest', async () => {
      const result = await run('fail')
      expect(result.code).toBe(1)
      expect(errorsOf(result)).toEqual([
        expect.stringContaining(`tag "1.4.2" points at ${other.digest}, not at the promoted ${image.digest}`)
      ])
      expect(await headDigest(hub, 'acme/conflict', '1.4.2')).toBe(other.digest)
      expectNoSecrets(result, allSecrets())
    })

    test('skip: succeeds as skipped, the tag keeps its digest', async () => {
      const result = await run('skip')
      expect(result.code).toBe(0)
      expect(result.outputs.result).toBe('skipped')
      expect(await headDigest(hub, 'acme/conflict', '1.4.2')).toBe(other.digest)
      expectNoSecrets(result, allSecrets())
    })

    test('overwrite: the tag moves to the promoted digest', async () => {
      const result = await run('overwrite')
      expect(result.code).toBe(0)
      expect(result.outputs.result).toBe('copied')
      expect(await headDigest(hub, 'acme/conflict', '1.4.2')).toBe(image.digest)
      expectNoSecrets(result, allSecrets())
    })
  })

  test('an archived ECR source (404 on pull, ARCHIVED in DescribeImages) is explained as archived, with how to restore it', async () => {
    aws.state.archived.add('app:1.3.0')
    const run = await runAction(inputs({ source: `${ECR_HOST}/app:1.3.0` }), {
      env: { ...baseEnv(), ...aws.oidcEnv }
    })
    expect(run.code).toBe(1)
    const errors = errorsOf(run).join('\n')
    expect(errors).toContain(
      'the image is archived (ECR archive storage class), so ECR answers 404 to a pull'
    )
    expect(errors).toContain(
      'aws ecr update-image-storage-class --repository-name app --image-id imageTag=1.3.0 --target-storage-class STANDARD'
    )
    expect(aws.state.describeCalls).toContain('app:1.3.0')
    expectNoSecrets(run, allSecrets())
  })

  test('a missing ECR tag that is not archived stays "not found"', async () => {
    const run = await runAction(inputs({ source: `${ECR_HOST}/app:0.0.1` }), {
      env: { ...baseEnv(), ...aws.oidcEnv }
    })
    expect(run.code).toBe(1)
    expect(errorsOf(run).join('\n')).toMatch(/tag 0\.0\.1 not found in repository app/)
    expect(errorsOf(run).join('\n')).not.toContain('archived')
  })
})
