// Which credentials each side logs in with when no password is stored: ghcr.io with the job's token
// as the actor, Docker Hub through an OIDC connection as the organisation; and what a refusal says.
import { describe, expect, test } from '@jest/globals'
import { getInputs, getPromotions, InputError } from '../src/promotion/options.js'
import { accessHint } from '../src/promotion/hints.js'
import { RegistryError } from '../src/registry/index.js'
import { runCli } from '../src/cli/main.js'

const read = (values: Record<string, string>) => (name: string) => values[name] ?? ''
const CONNECTION = '0f8fad5b-d9cb-469f-a165-70867728950e'
const ECR = '123456789012.dkr.ecr.us-east-1.amazonaws.com'

describe('ghcr.io with the job token', () => {
  test('a ghcr.io side with no credentials logs in with github-token as the actor', () => {
    const inputs = getInputs(
      read({ source: `${ECR}/app:1`, destination: 'ghcr.io/acme/app', 'github-token': 'ghs_job' }),
      {
        GITHUB_ACTOR: 'octocat'
      }
    )
    expect(inputs.destinationCredentials).toEqual({ username: 'octocat', password: 'ghs_job' })
    expect(inputs.githubTokenSides).toEqual(['destination'])
  })

  test.each([
    [
      'explicit credentials win',
      { 'destination-username': 'bot', 'destination-password': 'pat' },
      { username: 'bot', password: 'pat' },
      []
    ],
    ['no token, no credentials', { 'github-token': '' }, undefined, []]
  ])('%s', (_name, extra, credentials, sides) => {
    const inputs = getInputs(
      read({ source: `${ECR}/app:1`, destination: 'ghcr.io/acme/app', 'github-token': 'ghs_job', ...extra }),
      {}
    )
    expect(inputs.destinationCredentials).toEqual(credentials)
    expect(inputs.githubTokenSides).toEqual(sides)
  })

  test('other registries never get the job token', () => {
    const inputs = getInputs(
      read({ source: `${ECR}/app:1`, destination: 'docker.io/acme/app', 'github-token': 'ghs_job' }),
      {}
    )
    expect(inputs.destinationCredentials).toBeUndefined()
  })

  test('a 403 on write names the two usual causes', () => {
    const inputs = getInputs(
      read({ source: `${ECR}/app:1`, destination: 'ghcr.io/acme/app', 'github-token': 'ghs_job' }),
      {}
    )
    const hint = accessHint(inputs, 'destination', new RegistryError('denied', { status: 403 }))
    expect(hint).toContain('"permissions: packages: write"')
    expect(hint).toContain('Manage Actions access')
  })
})

describe('Docker Hub through an OIDC connection', () => {
  const base = {
    source: `${ECR}/app:1.4.2`,
    destination: 'docker.io/acme/app',
    'dockerhub-oidc-connection-id': CONNECTION
  }

  test('the destination logs in as the organisation, with no password', () => {
    const inputs = getInputs(read({ ...base, 'destination-username': 'acme' }), {})
    expect(inputs.dockerHubOidc).toEqual({
      connectionId: CONNECTION,
      side: 'destination',
      organisation: 'acme'
    })
    expect(inputs.destinationCredentials).toBeUndefined()
  })

  test('a Docker Hub source without a password uses it when the destination is elsewhere', () => {
    const inputs = getInputs(
      read({
        ...base,
        source: 'docker.io/acme/base:1',
        destination: `${ECR}/base`,
        'source-username': 'acme'
      }),
      {}
    )
    expect(inputs.dockerHubOidc?.side).toBe('source')
  })

  test.each([
    [{ 'destination-username': '' }, 'destination-username', 'an organisation, not a person'],
    [
      { 'destination-username': 'acme', 'dockerhub-oidc-connection-id': 'acme-conn' },
      'dockerhub-oidc-connection-id',
      'a UUID'
    ],
    [
      { 'destination-username': 'acme', 'destination-password': 'pat' },
      'dockerhub-oidc-connection-id',
      'no Docker Hub side is without a password'
    ]
  ])('%p is refused naming %s', (extra, input, words) => {
    let error: unknown
    try {
      getInputs(read({ ...base, ...extra }), {})
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(InputError)
    expect((error as InputError).input).toBe(input)
    expect((error as InputError).message).toContain(words)
  })

  test('the CLI flag outside GitHub Actions fails before any network call, saying why', async () => {
    let stderr = ''
    const code = await runCli(
      [
        `${ECR}/app:1.4.2`,
        'docker.io/acme/app',
        '--destination-username',
        'acme',
        '--dockerhub-oidc-connection-id',
        CONNECTION
      ],
      { PATH: process.env.PATH },
      { stdout: () => undefined, stderr: (t) => void (stderr += t), stdin: () => '' }
    )
    expect(code).toBe(2)
    expect(stderr).toContain('Docker Hub OIDC connections trust only GitHub Actions tokens today')
  })
})

describe('a release set with no stored secret', () => {
  test('Docker Hub lines use the OIDC connection; GHCR, ECR Public and ECR lines log in their own way', () => {
    const images = [
      `${ECR}/app:1 docker.io/acme/app`,
      `${ECR}/app:1 ghcr.io/acme/app`,
      `${ECR}/app:1 public.ecr.aws/acme/app`,
      `${ECR}/app:1 ${ECR}/mirror/app`
    ].join('\n')
    const set = getPromotions(
      read({
        images,
        'destination-username': 'acme',
        'dockerhub-oidc-connection-id': CONNECTION,
        'github-token': 'ghs_job'
      }),
      { GITHUB_ACTOR: 'octocat' }
    ).map((p) => p.inputs)
    expect(set.map((i) => i.dockerHubOidc?.organisation)).toEqual(['acme', undefined, undefined, undefined])
    expect(set.map((i) => i.destinationCredentials)).toEqual([
      undefined,
      { username: 'octocat', password: 'ghs_job' },
      undefined,
      undefined
    ])
  })

  test('a connection id with no line reaching Docker Hub is an input error', () => {
    expect(() =>
      getPromotions(
        read({ images: `${ECR}/app:1 ghcr.io/acme/app`, 'dockerhub-oidc-connection-id': CONNECTION }),
        {}
      )
    ).toThrow('Input "dockerhub-oidc-connection-id" is set, but no line of images reaches Docker Hub')
  })
})
