// The scan gate of a promotion from ECR, run as the runner runs dist/index.js:
// `fail-on-scan-severity` reads ECR's DescribeImageScanFindings for every platform manifest, waiting
// while a scan is in progress. The ECR side is the TLS registry behind the CONNECT proxy and the fake
// ECR API (__tests__/support/ecr-env.ts); the destination is a plain registry whose access log shows
// that a failed gate sent it no write at all. The signature gate is in signature-gate.test.ts.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import {
  basicScan,
  enhancedScan,
  scanError,
  scanStatus,
  type FindingSpec,
  type ScanAnswer
} from '../../scripts/lib/fake-ecr-api.mjs'
import type { EcrEnv } from '../support/ecr-env.js'
import {
  gateSteps,
  seedGateImages,
  seedWithAttestation,
  startGateEnv,
  type Image,
  type MultiImage
} from '../support/gate-fixtures.js'

let env: EcrEnv
let images: Record<string, Image> = {}
let multiFail: MultiImage
let multiClean: MultiImage
const { promote, expectStopped, expectPromoted } = gateSteps(() => env)

beforeAll(async () => {
  env = await startGateEnv('scan-gate')
  images = await seedGateImages(env.ecr, [
    'scan-high',
    'scan-low',
    'scan-polled',
    'scan-stuck',
    'scan-none',
    'scan-failed',
    'scan-unsupported',
    'scan-enhanced',
    'scan-paged',
    'scan-denied'
  ])
  multiFail = await seedWithAttestation(env.ecr, 'multi-fail')
  multiClean = await seedWithAttestation(env.ecr, 'multi-clean')
})

afterAll(async () => {
  await env?.stop()
})

/** The DescribeImageScanFindings calls (first pages and further ones) for a digest of app. */
const scanCallsOf = (digest: string) => env.aws.state.scanCalls.filter((c) => c.key === `app@${digest}`)

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
