// The gates a promotion from ECR must pass before anything is written at the destination, run as the
// runner runs dist/index.js (and one through dist/cli.js): `require-signature-key` (a cosign key
// signature at sha256-<hex>.sig, or a sigstore bundle referrer, over the source's root digest) and
// `fail-on-scan-severity` (ECR's DescribeImageScanFindings for every platform manifest, waited for
// while in progress). The ECR side is the TLS registry behind the CONNECT proxy and the fake ECR API
// (__tests__/support/ecr-env.ts); the destination is a plain registry whose access log shows that a
// failed gate sent it no write at all.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { spawn } from 'node:child_process'
import { createHash, createPublicKey, type KeyObject } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { errorsOf, ROOT, runAction } from '../../scripts/lib/action.mjs'
import { USERS } from '../../scripts/lib/registries.mjs'
import { headDigest, pushBlob, pushManifest, seedImage } from '../../scripts/lib/images.mjs'
import { ECR_HOST } from '../../scripts/lib/fake-aws.mjs'
import {
  basicScan,
  enhancedScan,
  scanError,
  scanStatus,
  type FindingSpec,
  type ScanAnswer
} from '../../scripts/lib/fake-ecr-api.mjs'
import {
  bundleReferrer,
  digestTag,
  generateKeyPair,
  putManifest,
  sha256,
  signCosign
} from '../../scripts/lib/trust-fixtures.mjs'
import { ecrInputs, expectUntouched, startEcrEnv, type EcrEnv } from '../support/ecr-env.js'

type Image = Awaited<ReturnType<typeof seedImage>>
interface MultiImage {
  digest: string
  platforms: { digest: string; platform: { os: string; architecture: string } }[]
  attestation: string
}

const ambientKeys = {
  accessKeyId: 'AKIAGATESAMBIENT0001',
  secretAccessKey: 'gates-ambient-secret-DO-NOT-PRINT'
}
const key = generateKeyPair()
const otherKey = generateKeyPair()
const keyPem = String(key.publicKeyPem)
const otherKeyPem = String(otherKey.publicKeyPem)
let env: EcrEnv
let keyFile: string
const images: Record<string, Image> = {}
let multiFail: MultiImage
let multiClean: MultiImage

/** A descriptor of an image, as fixtures take a subject. */
const subject = (image: Image) => ({
  digest: image.digest,
  mediaType: image.mediaType,
  size: image.bytes.length
})

/** How the action names a key: SHA256: and the unpadded base64 SHA-256 of its SubjectPublicKeyInfo. */
function fingerprint(publicKey: KeyObject | string): string {
  const der = createPublicKey(publicKey).export({ type: 'spki', format: 'der' })
  return `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`
}

/**
 * An image index of two platforms and, as buildx writes one, an attestation manifest (platform
 * unknown/unknown) about the first: only the two platform manifests are images ECR scans.
 */
async function seedWithAttestation(tag: string): Promise<MultiImage> {
  const base = await seedImage(env.ecr, 'app', `${tag}-base`, {
    platforms: ['linux/amd64', 'linux/arm64'],
    layers: [1536]
  })
  const blob = (bytes: Buffer) => ({
    size: bytes.length,
    digest: sha256(bytes),
    async *stream() {
      yield bytes
    }
  })
  const statement = blob(
    Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v0.1',
        predicateType: 'https://spdx.dev/Document',
        subject: [{ name: `${ECR_HOST}/app`, digest: { sha256: base.manifests[0].digest.slice(7) } }],
        predicate: { spdxVersion: 'SPDX-2.3' }
      })
    )
  )
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: 'unknown',
        os: 'unknown',
        config: {},
        rootfs: { type: 'layers', diff_ids: [statement.digest] }
      })
    )
  )
  for (const b of [statement, config]) await pushBlob(env.ecr, 'app', b)
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: config.digest,
        size: config.size
      },
      layers: [
        {
          mediaType: 'application/vnd.in-toto+json',
          digest: statement.digest,
          size: statement.size,
          annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' }
        }
      ]
    })
  )
  const attestation = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    bytes: manifestBytes,
    digest: sha256(manifestBytes)
  }
  await pushManifest(env.ecr, 'app', attestation.digest, attestation)
  const indexBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        ...base.manifests.map((m) => ({
          mediaType: m.mediaType,
          digest: m.digest,
          size: m.bytes.length,
          platform: m.platform
        })),
        {
          mediaType: attestation.mediaType,
          digest: attestation.digest,
          size: manifestBytes.length,
          platform: { architecture: 'unknown', os: 'unknown' },
          annotations: {
            'vnd.docker.reference.digest': base.manifests[0].digest,
            'vnd.docker.reference.type': 'attestation-manifest'
          }
        }
      ]
    })
  )
  const index = { mediaType: 'application/vnd.oci.image.index.v1+json', bytes: indexBytes }
  await pushManifest(env.ecr, 'app', tag, index)
  return {
    digest: sha256(indexBytes),
    platforms: base.manifests.map((m) => ({
      digest: m.digest,
      platform: m.platform as { os: string; architecture: string }
    })),
    attestation: attestation.digest
  }
}

beforeAll(async () => {
  env = await startEcrEnv({ name: 'gates', destination: true, ambientKeys })
  keyFile = join(env.dir, 'cosign.pub')
  writeFileSync(keyFile, keyPem)
  const seed = async (tag: string, multi = false) => {
    images[tag] = await seedImage(env.ecr, 'app', tag, {
      platforms: multi ? ['linux/amd64', 'linux/arm64'] : ['linux/amd64'],
      layers: [1024],
      sharedLayers: multi ? [2048] : [],
      format: 'oci'
    })
  }
  await seed('1.4.2', true)
  for (const tag of ['signed', 'bundled', 'second-key']) await seed(tag, true)
  for (const tag of ['other-key', 'unsigned', 'wrong-digest', 'decoy', 'child-signed', 'cli-unsigned']) {
    await seed(tag, tag === 'child-signed')
  }
  for (const tag of ['scan-high', 'scan-low', 'scan-polled', 'scan-stuck', 'scan-none', 'scan-failed']) {
    await seed(tag)
  }
  for (const tag of ['scan-unsupported', 'scan-enhanced', 'scan-paged', 'scan-denied']) await seed(tag)

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

  multiFail = await seedWithAttestation('multi-fail')
  multiClean = await seedWithAttestation('multi-clean')
})

afterAll(async () => {
  await env?.stop()
})

const destLogin = { 'destination-username': 'promoter', 'destination-password': USERS.promoter.password }

/** Promotes ${ECR_HOST}/app:<tag> to <dest>/gates/<tag> with the gate inputs given. */
async function promote(tag: string, gates: Record<string, string> = {}) {
  const repository = `gates/${tag}`
  const mark = env.destLog!.mark()
  const run = await runAction(
    ecrInputs({
      source: `${ECR_HOST}/app:${tag}`,
      destination: `${env.dest!.host}/${repository}`,
      ...destLogin,
      ...gates
    }),
    { env: env.env() }
  )
  return { run, repository, mark, tag }
}

type Promotion = Awaited<ReturnType<typeof promote>>

/** The gate failed with all of `phrases` and "nothing was written", and nothing was: no write, no tag, no digest. */
async function expectStopped(p: Promotion, digest: string, phrases: (string | RegExp)[]) {
  const errors = errorsOf(p.run).join('\n')
  for (const phrase of [...phrases, 'nothing was written']) {
    if (typeof phrase === 'string') expect(errors).toContain(phrase)
    else expect(errors).toMatch(phrase)
  }
  expect(p.run.code).toBe(1)
  expect(p.run.stdout).not.toMatch(/ copied in /)
  await expectUntouched(env.dest!, env.destLog!, p.mark, p.repository, {
    [p.tag]: undefined,
    [digest]: undefined
  })
}

/** The promotion went through: the tag is at the digest. */
async function expectPromoted(p: Promotion, digest: string) {
  expect(errorsOf(p.run)).toEqual([])
  expect(p.run.code).toBe(0)
  expect(p.run.outputs.digest).toBe(digest)
  expect(await headDigest(env.dest!, p.repository, p.tag)).toBe(digest)
}

/** The DescribeImageScanFindings calls (first pages and further ones) for a digest of app. */
const scanCallsOf = (digest: string) => env.aws.state.scanCalls.filter((c) => c.key === `app@${digest}`)

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

describe('fail-on-scan-severity', () => {
  const scan = (image: Image | string, answers: ScanAnswer[]) =>
    env.aws.state.scans.set(`app@${typeof image === 'string' ? image : image.digest}`, answers)
  const highAndCritical: FindingSpec[] = [
    ['CVE-2024-1234', 'CRITICAL', 'openssl', '3.0.1'],
    ['CVE-2024-2001', 'HIGH', 'zlib', '1.2.11'],
    ['CVE-2024-2002', 'HIGH', 'curl', '7.68.0'],
    ['CVE-2024-3001', 'MEDIUM', 'bash', '5.0']
  ]

  test('findings at or above the threshold: stopped before any write, with the counts and the CVE ids', async () => {
    scan(images['scan-high'], [basicScan({ CRITICAL: 1, HIGH: 2, MEDIUM: 1 }, highAndCritical)])
    const p = await promote('scan-high', { 'fail-on-scan-severity': 'high', 'scan-wait-seconds': '5' })
    await expectStopped(p, images['scan-high'].digest, ['scan gate', 'CRITICAL 1, HIGH 2', 'CVE-2024-1234'])
    expect(scanCallsOf(images['scan-high'].digest).length).toBeGreaterThanOrEqual(1)
  })

  test('findings below the threshold pass; the job summary shows the counts', async () => {
    scan(images['scan-low'], [
      basicScan({ MEDIUM: 2, LOW: 3 }, [
        ['CVE-2024-4001', 'MEDIUM'],
        ['CVE-2024-4002', 'MEDIUM'],
        ['CVE-2024-5001', 'LOW'],
        ['CVE-2024-5002', 'LOW'],
        ['CVE-2024-5003', 'LOW']
      ])
    ])
    const p = await promote('scan-low', { 'fail-on-scan-severity': 'high', 'scan-wait-seconds': '5' })
    await expectPromoted(p, images['scan-low'].digest)
    expect(p.run.stdout).toContain('scan gate passed')
    expect(p.run.summary).toMatch(/scan/i)
    expect(p.run.summary).toMatch(/MEDIUM\D{0,40}2/)
    expect(p.run.summary).toMatch(/LOW\D{0,40}3/)
  })

  test('a scan PENDING, then IN_PROGRESS, then complete: the gate waits, polls and passes', async () => {
    scan(images['scan-polled'], [
      scanStatus('PENDING'),
      scanStatus('IN_PROGRESS'),
      basicScan({ LOW: 1 }, [['CVE-2024-6001', 'LOW']])
    ])
    const p = await promote('scan-polled', { 'fail-on-scan-severity': 'medium', 'scan-wait-seconds': '10' })
    await expectPromoted(p, images['scan-polled'].digest)
    expect(p.run.stdout).toContain('scan gate passed')
    const calls = scanCallsOf(images['scan-polled'].digest).filter((c) => !c.nextToken)
    expect(calls.map((c) => c.answer)).toEqual([0, 1, 2])
    // Polled about once a second (a twentieth of the wait, at least 1 s), not in a tight loop.
    expect(calls[2].time - calls[0].time).toBeGreaterThanOrEqual(1500)
  })

  test('a scan still IN_PROGRESS when scan-wait-seconds ends: stopped, naming the status and scan-wait-seconds', async () => {
    scan(images['scan-stuck'], [scanStatus('IN_PROGRESS')])
    const p = await promote('scan-stuck', { 'fail-on-scan-severity': 'critical', 'scan-wait-seconds': '3' })
    await expectStopped(p, images['scan-stuck'].digest, [
      'scan gate',
      'still IN_PROGRESS',
      'scan-wait-seconds'
    ])
    const calls = scanCallsOf(images['scan-stuck'].digest)
    expect(calls.length).toBeGreaterThanOrEqual(2)
    expect(calls.at(-1)!.time - calls[0].time).toBeGreaterThanOrEqual(1500)
    expect(p.run.wallMs).toBeGreaterThanOrEqual(2000)
    expect(p.run.wallMs).toBeLessThan(30_000)
  })

  test('a scan that never ran (ScanNotFoundException): stopped, saying no scan', async () => {
    scan(images['scan-none'], [scanError('ScanNotFoundException')])
    const p = await promote('scan-none', { 'fail-on-scan-severity': 'critical', 'scan-wait-seconds': '3' })
    await expectStopped(p, images['scan-none'].digest, ['scan gate', 'no scan'])
  })

  test.each([
    ['FAILED', 'scan-failed'],
    ['UNSUPPORTED_IMAGE', 'scan-unsupported']
  ])('a scan that ended %s: stopped, naming the status', async (status, tag) => {
    scan(images[tag], [scanStatus(status)])
    const p = await promote(tag, { 'fail-on-scan-severity': 'critical', 'scan-wait-seconds': '3' })
    await expectStopped(p, images[tag].digest, ['scan gate', status])
  })

  test('enhanced scanning (Inspector, status ACTIVE) above the threshold: stopped, naming the CVE id', async () => {
    scan(images['scan-enhanced'], [
      enhancedScan({ HIGH: 1, MEDIUM: 1 }, [
        ['CVE-2024-5678', 'HIGH', 'libxml2', '2.9.1'],
        ['CVE-2024-7001', 'MEDIUM', 'expat', '2.4.1']
      ])
    ])
    const p = await promote('scan-enhanced', { 'fail-on-scan-severity': 'high', 'scan-wait-seconds': '5' })
    await expectStopped(p, images['scan-enhanced'].digest, ['scan gate', 'HIGH 1', 'CVE-2024-5678'])
  })

  test('a finding past the first page of findings is named (nextToken paging)', async () => {
    const low: FindingSpec[] = Array.from({ length: 1050 }, (_, i) => [`CVE-2023-${10000 + i}`, 'LOW'])
    scan(images['scan-paged'], [
      basicScan({ LOW: 1050, CRITICAL: 1 }, [...low, ['CVE-2024-9999', 'CRITICAL', 'glibc', '2.31']])
    ])
    const p = await promote('scan-paged', { 'fail-on-scan-severity': 'critical', 'scan-wait-seconds': '5' })
    await expectStopped(p, images['scan-paged'].digest, ['scan gate', 'CRITICAL 1', 'CVE-2024-9999'])
    expect(scanCallsOf(images['scan-paged'].digest).some((c) => c.nextToken)).toBe(true)
  })

  test('ecr:DescribeImageScanFindings denied: stopped (fails closed), naming the permission', async () => {
    env.aws.state.denied.add('DescribeImageScanFindings')
    try {
      const p = await promote('scan-denied', {
        'fail-on-scan-severity': 'critical',
        'scan-wait-seconds': '3'
      })
      await expectStopped(p, images['scan-denied'].digest, ['scan gate', 'ecr:DescribeImageScanFindings'])
    } finally {
      env.aws.state.denied.delete('DescribeImageScanFindings')
    }
  })

  test("a multi-platform image: one platform's findings stop it, naming that platform's digest", async () => {
    const [amd64, arm64] = multiFail.platforms
    scan(amd64.digest, [basicScan({}, [])])
    scan(arm64.digest, [basicScan({ CRITICAL: 1 }, [['CVE-2024-8888', 'CRITICAL', 'musl', '1.2.3']])])
    const p = await promote('multi-fail', { 'fail-on-scan-severity': 'critical', 'scan-wait-seconds': '5' })
    await expectStopped(p, multiFail.digest, ['scan gate', arm64.digest, 'CVE-2024-8888'])
    expect(scanCallsOf(multiFail.digest)).toEqual([])
    expect(scanCallsOf(multiFail.attestation)).toEqual([])
  })

  test('a multi-platform image, every platform clean: passes; neither the index nor the attestation manifest is asked about', async () => {
    for (const { digest } of multiClean.platforms)
      scan(digest, [basicScan({ LOW: 1 }, [['CVE-2024-1111', 'LOW']])])
    const p = await promote('multi-clean', { 'fail-on-scan-severity': 'high', 'scan-wait-seconds': '5' })
    await expectPromoted(p, multiClean.digest)
    expect(p.run.stdout).toContain('scan gate passed')
    for (const { digest } of multiClean.platforms)
      expect(scanCallsOf(digest).length).toBeGreaterThanOrEqual(1)
    expect(scanCallsOf(multiClean.digest)).toEqual([])
    expect(scanCallsOf(multiClean.attestation)).toEqual([])
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
    expect(run.code).not.toBe(0)
    expect(run.code).not.toBe(2) // not a usage error: the flag is known
    expect(run.stderr).not.toContain(ambientKeys.secretAccessKey)
    await expectUntouched(env.dest!, env.destLog!, mark, 'cli/unsigned', {
      'cli-unsigned': undefined,
      [images['cli-unsigned'].digest]: undefined
    })
  })
})
