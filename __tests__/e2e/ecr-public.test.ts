// ECR Public as a destination through dist/index.js over TLS through a proxy: the login comes from
// ecr-public:GetAuthorizationToken in us-east-1 (a fake ECR Public API answering its JSON protocol),
// signed with the role the job's OIDC token assumed; the registry is a real one under public.ecr.aws.
import { afterAll, beforeAll, expect, test } from '@jest/globals'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRegistry } from '../../scripts/lib/registries.mjs'
import { headDigest, seedImage } from '../../scripts/lib/images.mjs'
import { errorsOf, runAction } from '../../scripts/lib/action.mjs'
import { makeTestPki } from '../../scripts/lib/tls.mjs'
import { startConnectProxy } from '../../scripts/lib/connect-proxy.mjs'
import { ECR_BCRYPT, ECR_HOST, ECR_PASSWORD, ROLE, startFakeAws } from '../../scripts/lib/fake-aws.mjs'
import { expectNoSecrets } from '../support/helpers.js'

type Registry = Awaited<ReturnType<typeof startRegistry>>
let dir: string
let ecr: Registry
let gallery: Registry
let proxy: Awaited<ReturnType<typeof startConnectProxy>>
let aws: Awaited<ReturnType<typeof startFakeAws>>
let caPath: string
const awsUser = { AWS: { password: ECR_PASSWORD, bcrypt: ECR_BCRYPT, actions: ['pull', 'push'] } }

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ecr-promote-public-'))
  const pki = makeTestPki(dir, [ECR_HOST, 'public.ecr.aws'])
  caPath = pki.caPath
  ;[ecr, gallery, aws] = await Promise.all([
    startRegistry({ auth: 'basic', tls: pki, name: 'ecr', users: awsUser }),
    startRegistry({ auth: 'basic', tls: pki, name: 'public', users: awsUser }),
    startFakeAws({})
  ])
  proxy = await startConnectProxy({ [`${ECR_HOST}:443`]: ecr.host, 'public.ecr.aws:443': gallery.host })
})

afterAll(async () => {
  await Promise.all([ecr?.stop(), gallery?.stop(), proxy?.stop(), aws?.stop()])
  rmSync(dir, { recursive: true, force: true })
})

test('public.ecr.aws/ALIAS/NAME as a destination logs in through ECR Public in us-east-1 with the role', async () => {
  const image = await seedImage(ecr, 'app', '2.0.0', { platforms: ['linux/amd64', 'linux/arm64'] })
  const run = await runAction(
    { source: `${ECR_HOST}/app:2.0.0`, destination: 'public.ecr.aws/acme/app', 'role-to-assume': ROLE },
    {
      env: {
        HTTPS_PROXY: proxy.url,
        NO_PROXY: '127.0.0.1,localhost',
        NODE_EXTRA_CA_CERTS: caPath,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONFIG_FILE: join(dir, 'none'),
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
        GITHUB_REPOSITORY: 'acme/app',
        GITHUB_RUN_ID: '9',
        ...aws.endpointEnv,
        ...aws.oidcEnv
      }
    }
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
