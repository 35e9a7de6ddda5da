// A release promotion with no stored secret at all, through dist/index.js over TLS through a proxy:
// the role assumed with the job's OIDC token (fake GitHub OIDC endpoint, STS and ECR API), and Docker
// Hub reached through an organisation's OIDC connection: a fake identity.docker.com answering the
// RFC 8693 exchange, whose access tokens the Docker Hub token server accepts for the organisation.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { USERS } from '../../scripts/lib/registries.mjs'
import { headDigest, seedImage } from '../../scripts/lib/images.mjs'
import { errorsOf, runAction } from '../../scripts/lib/action.mjs'
import { startFakeDockerIdentity } from '../../scripts/lib/fake-docker-identity.mjs'
import { ECR_HOST, ROLE } from '../../scripts/lib/fake-aws.mjs'
import { expectNoSecrets } from '../support/helpers.js'
import {
  DOCKER_HUB_HOSTS,
  startDockerHub,
  startEcrEnv,
  type EcrEnv,
  type FakeAws
} from '../support/ecr-env.js'

type Identity = Awaited<ReturnType<typeof startFakeDockerIdentity>>

const CONNECTION = '0f8fad5b-d9cb-469f-a165-70867728950e'
const ORG = 'acme'
let ecrEnv: EcrEnv
let aws: FakeAws
let image: Awaited<ReturnType<typeof seedImage>>

beforeAll(async () => {
  ecrEnv = await startEcrEnv({ name: 'hub-oidc', tlsHosts: [...DOCKER_HUB_HOSTS, 'identity.docker.com'] })
  aws = ecrEnv.aws
  // Many small layers, copied one at a time: a run that outlives a one-second token.
  image = await seedImage(ecrEnv.ecr, 'app', '1.4.2', {
    platforms: ['linux/amd64'],
    layers: Array(60).fill(8 * 1024)
  })
})

afterAll(async () => {
  await ecrEnv?.stop()
})

/** Docker Hub (registry and token server) and identity.docker.com, routed in place of earlier ones. */
async function startHub(options: { tokenTtlSeconds?: number; usesPerToken?: number } = {}) {
  // The token server's users: the organisation's password is whatever access token was issued last.
  const users: Record<string, unknown> = { ...USERS }
  const hub = await startDockerHub(ecrEnv, {
    tokenTtlSeconds: options.tokenTtlSeconds ?? 300,
    users: users as typeof USERS
  })
  const identity: Identity = await startFakeDockerIdentity({
    tls: ecrEnv.tls,
    connectionId: CONNECTION,
    organisation: ORG,
    users,
    usesPerToken: options.usesPerToken
  })
  ecrEnv.serve(identity, { 'identity.docker.com:443': identity.host })
  return { hub, identity, env: ecrEnv.env() }
}

const inputs = (overrides: Record<string, string> = {}) => ({
  source: `${ECR_HOST}/app:1.4.2`,
  destination: 'docker.io/acme/app',
  'role-to-assume': ROLE,
  'destination-username': ORG,
  'dockerhub-oidc-connection-id': CONNECTION,
  ...overrides
})

function secretsOf(identity: Identity): string[] {
  return [...aws.state.secrets, ...identity.state.issued, ...identity.state.idTokens]
}

describe('Docker Hub through an OIDC connection', () => {
  test('a promotion with no password at all: the exchange as the service takes it, the organisation as user', async () => {
    const { hub, identity, env } = await startHub()
    const run = await runAction(inputs(), { env })
    expect(errorsOf(run)).toEqual([])
    expect(run.outputs.result).toBe('copied')
    expect(await headDigest(hub, 'acme/app', '1.4.2')).toBe(image.digest)
    expect(identity.state.requests).toEqual([
      {
        method: 'POST',
        path: '/oauth/token',
        contentType: 'application/x-www-form-urlencoded',
        form: {
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
          subject_token: '<id token>',
          connection_id: CONNECTION,
          expires_in: '3600'
        }
      }
    ])
    expect(
      hub.tokenServer!.state.requests.filter((r: { user: string }) => r.user === ORG).length
    ).toBeGreaterThan(0)
    expectNoSecrets(run, secretsOf(identity))
  })

  test('an access token that expires mid-copy is replaced by a fresh exchange, and the copy goes on', async () => {
    // Registry tokens of one second, exchanged tokens good for one token request each.
    const { hub, identity, env } = await startHub({ tokenTtlSeconds: 1, usesPerToken: 1 })
    const run = await runAction(inputs({ concurrency: '1' }), {
      env: { ...env, ECR_PROMOTE_DOCKER_OIDC_LIFETIME_S: '300' }
    })
    expect(errorsOf(run)).toEqual([])
    expect(await headDigest(hub, 'acme/app', '1.4.2')).toBe(image.digest)
    expect(identity.state.issued.length).toBeGreaterThan(1)
    expect(run.stdout).toContain(
      'Docker Hub OIDC: the access token has expired; exchanging a fresh OIDC token'
    )
    expect(
      identity.state.requests.every((r: { form: { expires_in: string } }) => r.form.expires_in === '300')
    ).toBe(true)
    expectNoSecrets(run, secretsOf(identity))
  })

  test('a wrong connection id says to check it, and nothing is written', async () => {
    const { hub, identity, env } = await startHub()
    const wrong = '11111111-2222-3333-4444-555555555555'
    const run = await runAction(inputs({ 'dockerhub-oidc-connection-id': wrong }), { env })
    expect(run.code).toBe(1)
    expect(errorsOf(run).join('\n')).toContain(`no OIDC connection ${wrong} is known`)
    expect(await headDigest(hub, 'acme/app', '1.4.2')).toBeUndefined()
    expectNoSecrets(run, secretsOf(identity))
  })

  test('no organisation name fails before any network call, saying it must be the organisation', async () => {
    const { identity, env } = await startHub()
    const run = await runAction(inputs({ 'destination-username': '' }), { env })
    expect(run.code).toBe(1)
    expect(errorsOf(run).join('\n')).toContain(
      'Input "destination-username" is required with dockerhub-oidc-connection-id: the Docker Hub organisation'
    )
    expect(identity.state.requests).toEqual([])
  })
})
