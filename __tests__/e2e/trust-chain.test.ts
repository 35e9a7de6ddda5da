// The committed bundles carry the trust chain as a runner and a shell run them: the action's
// `referrers` output and job summary table, the CLI's JSON and --referrers false, and signatures that
// verify at the destination with the public key.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { ROOT, runAction } from '../../scripts/lib/action.mjs'
import { USERS, startRegistry } from '../../scripts/lib/registries.mjs'
import { headDigest, seedImage } from '../../scripts/lib/images.mjs'
import {
  bundleReferrer,
  digestTag,
  generateKeyPair,
  sbomReferrer,
  signCosign
} from '../../scripts/lib/trust-fixtures.mjs'
import { verifyBundleReferrers, verifyCosignSignatures } from '../../scripts/lib/trust-verify.mjs'
import { expectNoSecrets } from '../support/helpers.js'

type Registry = Awaited<ReturnType<typeof startRegistry>>
let source: Registry
let dest: Registry
let image: Awaited<ReturnType<typeof seedImage>>
const key = generateKeyPair()
const expected: Record<string, string> = {}

beforeAll(async () => {
  ;[source, dest] = await Promise.all([
    startRegistry({ auth: 'token', name: 'e2e-trust-src' }),
    startRegistry({ auth: 'basic', name: 'e2e-trust-dst' })
  ])
  image = await seedImage(source, 'app', 'v1', { platforms: ['linux/amd64', 'linux/arm64'] })
  const root = { digest: image.digest, mediaType: image.mediaType, size: image.bytes.length }
  expected.sig = (await signCosign(source, 'app', root, key)).digest
  expected.bundle = (await bundleReferrer(source, 'app', root, key)).digest
  const child = image.manifests[0]
  expected.sbom = (
    await sbomReferrer(source, 'app', {
      digest: child.digest,
      mediaType: child.mediaType,
      size: child.bytes.length
    })
  ).digest
})
afterAll(async () => Promise.all([source?.stop(), dest?.stop()]))

const credentials = {
  'source-username': 'reader',
  'source-password': USERS.reader.password,
  'destination-username': 'promoter',
  'destination-password': USERS.promoter.password
}

describe('dist/index.js', () => {
  test('the referrers output and the summary table list what was copied; a re-run is unchanged', async () => {
    const inputs = {
      source: `${source.host}/app:v1`,
      destination: `${dest.host}/acme/app:v1`,
      ...credentials
    }
    const run = await runAction(inputs)
    expect(run.code).toBe(0)
    expect(run.outputs.result).toBe('copied')
    const referrers = JSON.parse(run.outputs.referrers) as { digest: string; subject: string; kind: string }[]
    expect(referrers.map((r) => r.digest).sort()).toEqual(
      [expected.sig, expected.bundle, expected.sbom].sort()
    )
    expect(referrers.find((r) => r.digest === expected.sbom)?.subject).toBe(image.manifests[0].digest)
    expect(await verifyCosignSignatures(dest, 'acme/app', image.digest, key.publicKey)).toBe(1)
    expect(await verifyBundleReferrers(dest, 'acme/app', image.digest, key.publicKeyPem)).toBe(1)
    expect(run.summary).toContain('<h4>Signatures and referrers</h4>')
    expect(run.summary).toContain(`<code>${expected.bundle}</code>`)
    expect(run.summary).toMatch(
      /application\/vnd\.dev\.sigstore\.bundle\.v0\.3\+json<\/td><td><code>sha256:[0-9a-f]+<\/code><\/td><td><code>sha256:[0-9a-f]+<\/code><\/td><td>copied<\/td>/
    )
    expect(run.stdout).toMatch(/referrers: 3 copied, 0 already there/)
    expectNoSecrets(run, [USERS.reader.password, USERS.promoter.password])

    const again = await runAction(inputs)
    expect(again.outputs.result).toBe('unchanged')
    expect(JSON.parse(again.outputs.referrers)).toHaveLength(3)
    expect(again.summary).toMatch(/<td>already there<\/td>/)
  })
})

function cli(
  args: string[],
  env: Record<string, string>
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli.js'), ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
}

describe('dist/cli.js', () => {
  const env = {
    ECR_PROMOTE_SOURCE_USERNAME: 'reader',
    ECR_PROMOTE_SOURCE_PASSWORD: USERS.reader.password,
    ECR_PROMOTE_DESTINATION_USERNAME: 'promoter',
    ECR_PROMOTE_DESTINATION_PASSWORD: USERS.promoter.password
  }

  test('--output json carries the referrers; --referrers false copies none', async () => {
    const signed = await cli([`${source.host}/app:v1`, `${dest.host}/cli/signed:v1`, '--output', 'json'], env)
    expect(signed.code).toBe(0)
    const record = JSON.parse(signed.stdout) as { referrers: { digest: string }[] }
    expect(record.referrers.map((r) => r.digest).sort()).toEqual(
      [expected.sig, expected.bundle, expected.sbom].sort()
    )
    expect(signed.stderr).toMatch(
      /referrer sha256:[0-9a-f]+ \(application\/spdx\+json\) of sha256:[0-9a-f]+: copied/
    )

    const plain = await cli(
      [`${source.host}/app:v1`, `${dest.host}/cli/plain:v1`, '--referrers', 'false', '--output', 'json'],
      env
    )
    expect(plain.code).toBe(0)
    expect(JSON.parse(plain.stdout).referrers).toEqual([])
    expect(await headDigest(dest, 'cli/plain', 'v1')).toBe(image.digest)
    expect(await headDigest(dest, 'cli/plain', digestTag(image.digest, 'sig'))).toBeUndefined()
  })

  test('--referrers with a value that is not true or false is a usage error, before any network call', async () => {
    const bad = await cli([`${source.host}/app:v1`, `${dest.host}/cli/bad:v1`, '--referrers', 'yes'], env)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--referrers is "yes"; allowed: true, false')
  })
})
