// ECR Public as a destination through dist/index.js over TLS through a proxy: the login comes from
// ecr-public:GetAuthorizationToken in us-east-1 (a fake ECR Public API answering its JSON protocol),
// signed with the role the job's OIDC token assumed; the registry is a real one under public.ecr.aws.
import { afterAll, beforeAll, expect, test } from '@jest/globals'
import { startRegistry } from '../../scripts/lib/registries.mjs'
import { headDigest, seedImage } from '../../scripts/lib/images.mjs'
import { errorsOf, runAction } from '../../scripts/lib/action.mjs'
import { ECR_BCRYPT, ECR_HOST, ECR_PASSWORD, ROLE } from '../../scripts/lib/fake-aws.mjs'
import { expectNoSecrets } from '../support/helpers.js'
import { startEcrEnv, type EcrEnv, type FakeAws, type Registry } from '../support/ecr-env.js'

let env: EcrEnv
let ecr: Registry
let gallery: Registry
let aws: FakeAws
const awsUser = { AWS: { password: ECR_PASSWORD, bcrypt: ECR_BCRYPT, actions: ['pull', 'push'] } }

beforeAll(async () => {
  env = await startEcrEnv({ name: 'public', tlsHosts: ['public.ecr.aws'] })
  ;({ ecr, aws } = env)
  gallery = await startRegistry({ auth: 'basic', tls: env.tls, name: 'public', users: awsUser })
  env.serve(gallery, { 'public.ecr.aws:443': gallery.host })
})

afterAll(async () => {
  await env?.stop()
})

test('public.ecr.aws/ALIAS/NAME as a destination logs in through ECR Public in us-east-1 with the role', async () => {
  const image = await seedImage(ecr, 'app', '2.0.0', { platforms: ['linux/amd64', 'linux/arm64'] })
  const run = await runAction(
    { source: `${ECR_HOST}/app:2.0.0`, destination: 'public.ecr.aws/acme/app', 'role-to-assume': ROLE },
    { env: env.env() }
  )
  expect(errorsOf(run)).toEqual([])
  expect(run.outputs.result).toBe('copied')
  expect(await headDigest(gallery, 'acme/app', '2.0.0')).toBe(image.digest)
  expect(aws.state.ecrPublicCalls).toHaveLength(1)
  expect(aws.state.ecrPublicCalls[0].region).toBe('us-east-1')
  expect(aws.state.stsCalls).toHaveLength(1)
  expect(run.stdout).toContain('ECR Public login obtained (us-east-1)')
  expectNoSecrets(run, aws.state.secrets)
})
