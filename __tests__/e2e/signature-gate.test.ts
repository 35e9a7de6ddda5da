// The signature gate of a promotion from ECR, run as the runner runs dist/index.js (and once through
// dist/cli.js): `require-signature-key` asks for a cosign key signature at sha256-<hex>.sig, or a
// sigstore bundle referrer, over the source's root digest; and, as a baseline, a promotion with no
// gate at all. The ECR side is the TLS registry behind the CONNECT proxy and the fake ECR API
// (__tests__/support/ecr-env.ts); the destination is a plain registry whose access log shows that a
// failed gate sent it no write at all. The scan gate is in scan-gate.test.ts.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from '../../scripts/lib/action.mjs'
import { USERS } from '../../scripts/lib/registries.mjs'
import { ECR_HOST } from '../../scripts/lib/fake-aws.mjs'
import {
  bundleReferrer,
  digestTag,
  makeBundle,
  SLSA_V1,
  generateKeyPair,
  putManifest,
  signCosign
} from '../../scripts/lib/trust-fixtures.mjs'
import { expectUntouched, type EcrEnv } from '../support/ecr-env.js'
import {
  ambientKeys,
  fingerprint,
  gateSteps,
  seedGateImages,
  startGateEnv,
  subject,
  type Image
} from '../support/gate-fixtures.js'

const key = generateKeyPair()
const otherKey = generateKeyPair()
const keyPem = String(key.publicKeyPem)
const otherKeyPem = String(otherKey.publicKeyPem)
let env: EcrEnv
let keyFile: string
let images: Record<string, Image> = {}
const { promote, expectStopped, expectPromoted } = gateSteps(() => env)

beforeAll(async () => {
  env = await startGateEnv('signature-gate')
  keyFile = join(env.dir, 'cosign.pub')
  writeFileSync(keyFile, keyPem)
  const multi = ['1.4.2', 'signed', 'bundled', 'second-key', 'child-signed']
  images = await seedGateImages(
    env.ecr,
    [...multi, 'other-key', 'unsigned', 'wrong-digest', 'decoy', 'cli-unsigned', 'rekor', 'attested'],
    multi
  )

  // Signatures, as `cosign sign --key` writes them (docker-reference names the ECR host).
  await signCosign(env.ecrNamed, 'app', subject(images.signed), key)
  await signCosign(env.ecrNamed, 'app', subject(images['other-key']), otherKey)
  await signCosign(env.ecrNamed, 'app', subject(images['second-key']), key)
  // The right key, the wrong image: decoy's signature copied under wrong-digest's signature tag.
  const forged = await signCosign(env.ecrNamed, 'app', subject(images.decoy), key)
  await putManifest(env.ecrNamed, 'app', digestTag(images['wrong-digest'].digest, 'sig'), forged.manifest)
  // A signature of a platform manifest is not one of the image (the root digest).
  const child = images['child-signed'].manifests[0]
  await signCosign(
    env.ecrNamed,
    'app',
    { digest: child.digest, mediaType: child.mediaType, size: child.bytes.length },
    key
  )
  // cosign v3's bundle: a referrer, listed in the fallback tag sha256-<hex> (distribution 2.8 has no referrers API).
  await bundleReferrer(env.ecrNamed, 'app', subject(images.bundled), key, { fallback: true })
  // As cosign uploads by default: the bundle carries a Rekor entry (no trust root for it here).
  const withRekor = await makeBundle(images.rekor.digest, key)
  withRekor.verificationMaterial.tlogEntries = [
    {
      logIndex: '12345',
      logId: { keyId: Buffer.alloc(32, 7).toString('base64') },
      kindVersion: { kind: 'dsse', version: '0.0.1' },
      integratedTime: '1764547200',
      inclusionPromise: { signedEntryTimestamp: Buffer.alloc(64, 1).toString('base64') },
      inclusionProof: {
        logIndex: '12345',
        rootHash: Buffer.alloc(32, 2).toString('base64'),
        treeSize: '20000',
        hashes: [Buffer.alloc(32, 3).toString('base64')],
        checkpoint: { envelope: 'rekor.sigstore.dev - 1\n20000\nAgIC\n\n— rekor.sigstore.dev abcd\n' }
      },
      canonicalizedBody: Buffer.from('{}').toString('base64')
    }
  ]
  await bundleReferrer(env.ecrNamed, 'app', subject(images.rekor), key, { fallback: true, bundle: withRekor })
  // The right key, but an attestation (SLSA provenance), not cosign's signing statement.
  await bundleReferrer(env.ecrNamed, 'app', subject(images.attested), key, {
    fallback: true,
    predicateType: SLSA_V1
  })
})

afterAll(async () => {
  await env?.stop()
})

describe('setup', () => {
  test('without a gate input the ECR image is promoted (TLS, proxy, OIDC role, ECR login)', async () => {
    const p = await promote('1.4.2')
    await expectPromoted(p, images['1.4.2'].digest)
    expect(p.run.outputs.platforms).toBe('["linux/amd64","linux/arm64"]')
    expect(env.aws.state.scanCalls).toEqual([])
    expect(p.run.stdout).not.toContain('gate passed')
  })
})
describe('require-signature-key', () => {
  test('a cosign signature of the root digest by the key passes; the log names key 1 and its fingerprint', async () => {
    const p = await promote('signed', { 'require-signature-key': keyPem })
    await expectPromoted(p, images.signed.digest)
    expect(p.run.stdout).toContain('signature gate passed')
    expect(p.run.stdout).toContain('key 1')
    expect(p.run.stdout).toContain(fingerprint(keyPem))
  })

  test('signed only by another key: stopped before any write, saying other key', async () => {
    const p = await promote('other-key', { 'require-signature-key': keyPem })
    await expectStopped(p, images['other-key'].digest, ['signature gate', 'other key'])
  })

  test('no signature at all: stopped before any write, saying no signature', async () => {
    const p = await promote('unsigned', { 'require-signature-key': keyPem })
    await expectStopped(p, images.unsigned.digest, ['signature gate', 'no signature'])
  })

  test("a signature by the key over another digest, under this digest's .sig tag: stopped, saying another digest", async () => {
    const p = await promote('wrong-digest', { 'require-signature-key': keyPem })
    await expectStopped(p, images['wrong-digest'].digest, ['signature gate', 'another digest'])
  })

  test('a signature of a platform manifest only is not a signature of the image', async () => {
    const p = await promote('child-signed', { 'require-signature-key': keyPem })
    await expectStopped(p, images['child-signed'].digest, ['signature gate', 'no signature'])
  })

  test('a sigstore bundle referrer by the key (through the fallback tag) passes; the key given as a file path', async () => {
    const p = await promote('bundled', { 'require-signature-key': keyFile })
    await expectPromoted(p, images.bundled.digest)
    expect(p.run.stdout).toContain('signature gate passed')
    expect(p.run.stdout).toContain('key 1')
    expect(p.run.stdout).toContain(fingerprint(keyPem))
  })

  test('a bundle that carries a Rekor entry still verifies by the key (the entry is not required)', async () => {
    const p = await promote('rekor', { 'require-signature-key': keyPem })
    await expectPromoted(p, images.rekor.digest)
    expect(p.run.stdout).toContain('signature gate passed')
    expect(p.run.stdout).toContain('sigstore bundle referrer')
  })

  test('an attestation bundle by the key is not a signature: stopped, saying so', async () => {
    const p = await promote('attested', { 'require-signature-key': keyPem })
    await expectStopped(p, images.attested.digest, [
      'signature gate',
      `attestation(s) by a trusted key (${SLSA_V1}) are not signatures`
    ])
  })

  test('two keys given, the second verifies: the log names key 2', async () => {
    const p = await promote('second-key', {
      'require-signature-key': `${otherKeyPem.trim()}\n${keyPem.trim()}\n`
    })
    await expectPromoted(p, images['second-key'].digest)
    expect(p.run.stdout).toContain('signature gate passed')
    expect(p.run.stdout).toContain('key 2')
    expect(p.run.stdout).toContain(fingerprint(keyPem))
  })
})
describe('dist/cli.js', () => {
  function cli(args: string[], extra: Record<string, string>) {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli.js'), ...args], {
      env: { PATH: process.env.PATH, HOME: env.dir, ...env.baseEnv(extra) },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      child.on('close', (code) => {
        clearTimeout(timer)
        resolve({ code, stdout, stderr })
      })
    )
  }

  test('--require-signature-key FILE on an unsigned image: stopped before any write', async () => {
    const mark = env.destLog!.mark()
    const run = await cli(
      [
        `${ECR_HOST}/app:cli-unsigned`,
        `${env.dest!.host}/cli/unsigned`,
        '--destination-username',
        'promoter',
        '--require-signature-key',
        keyFile
      ],
      {
        ECR_PROMOTE_DESTINATION_PASSWORD: USERS.promoter.password,
        AWS_ACCESS_KEY_ID: ambientKeys.accessKeyId,
        AWS_SECRET_ACCESS_KEY: ambientKeys.secretAccessKey
      }
    )
    expect(run.stderr).toContain('signature gate')
    expect(run.stderr).toContain('no signature')
    expect(run.stderr).toContain('nothing was written')
    expect(run.code).toBe(5) // a gate refused the image
    expect(run.stderr).not.toContain(ambientKeys.secretAccessKey)
    await expectUntouched(env.dest!, env.destLog!, mark, 'cli/unsigned', {
      'cli-unsigned': undefined,
      [images['cli-unsigned'].digest]: undefined
    })
  })

  test('--require-signature-key with --output json: the key that verified is in the result', async () => {
    const run = await cli(
      [
        `${ECR_HOST}/app:signed`,
        `${env.dest!.host}/cli/signed`,
        '--destination-username',
        'promoter',
        '--require-signature-key',
        keyFile,
        '--output',
        'json'
      ],
      {
        ECR_PROMOTE_DESTINATION_PASSWORD: USERS.promoter.password,
        AWS_ACCESS_KEY_ID: ambientKeys.accessKeyId,
        AWS_SECRET_ACCESS_KEY: ambientKeys.secretAccessKey
      }
    )
    expect(run.stderr).toContain('signature gate passed')
    expect(run.code).toBe(0)
    const record = JSON.parse(run.stdout) as { digest: string; gates: { signature: Record<string, string> } }
    expect(record.digest).toBe(images.signed.digest)
    expect(record.gates.signature).toEqual({
      key: 'key 1',
      fingerprint: fingerprint(keyPem),
      origin: keyFile,
      via: `cosign signature in ${digestTag(images.signed.digest, 'sig')}`
    })
  })
})
