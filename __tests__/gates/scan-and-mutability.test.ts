// The scan gate's decisions (waiting, thresholds, statuses that refuse) over a stand-in ECR API
// client, and the tag mutability rules of an ECR destination, as tables.
import { describe, expect, test } from '@jest/globals'
import * as ecr from '@aws-sdk/client-ecr'
import { checkScan, scanTargets } from '../../src/gates/scan.js'
import { OCI_INDEX, OCI_MANIFEST } from '../../src/registry/media-types.js'
import { checkTagMutability, isImmutable } from '../../src/promotion/ecr-destination.js'
import type { AwsSession } from '../../src/aws/session.js'
import type { Inputs } from '../../src/promotion/options.js'

const registry = { accountId: '123456789012', region: 'us-east-1', fips: false, dualStack: false }
const D = `sha256:${'a'.repeat(64)}`

/** An AwsSession whose ECR client answers DescribeImageScanFindings from `answers` in turn. */
function session(answers: (object | Error)[]) {
  const calls: unknown[] = []
  const client = {
    send: async (command: { input: unknown }) => {
      calls.push(command.input)
      const answer = answers[Math.min(calls.length - 1, answers.length - 1)]
      if (answer instanceof Error) throw answer
      return answer
    }
  }
  const aws = { withEcrApi: (_: unknown, use: (c: unknown, s: unknown) => unknown) => use(client, ecr) }
  return { aws: aws as unknown as AwsSession, calls }
}

const named = (name: string) => Object.assign(new Error(`${name} message`), { name })
const complete = (counts: Record<string, number>, findings: [string, string][] = []) => ({
  imageScanStatus: { status: 'COMPLETE' },
  imageScanFindings: {
    findingSeverityCounts: counts,
    findings: findings.map(([name, severity]) => ({
      name,
      severity,
      attributes: [{ key: 'package_name', value: 'openssl' }]
    }))
  }
})
const status = (value: string, description?: string) => ({ imageScanStatus: { status: value, description } })

function context(aws: AwsSession, log: string[] = []) {
  return {
    aws,
    registry,
    repository: 'app',
    where: 'ecr/app:1',
    log: { info: (m: string) => log.push(m) },
    sleep: async () => undefined
  }
}

describe('scan gate', () => {
  test('below the threshold passes, with the counts', async () => {
    const { aws } = session([complete({ MEDIUM: 2, LOW: 1 })])
    const verdict = await checkScan(context(aws), [{ digest: D }], { severity: 'HIGH', waitSeconds: 0 })
    expect(verdict.counts).toEqual({ MEDIUM: 2, LOW: 1 })
  })

  test('at or above refuses with counts and the worst names, most severe first', async () => {
    const { aws } = session([
      complete({ CRITICAL: 1, HIGH: 1, LOW: 3 }, [
        ['CVE-low', 'LOW'],
        ['CVE-high', 'HIGH'],
        ['CVE-crit', 'CRITICAL']
      ])
    ])
    await expect(
      checkScan(context(aws), [{ digest: D, platform: 'linux/arm64' }], { severity: 'HIGH', waitSeconds: 0 })
    ).rejects.toThrow(
      `${D} (linux/arm64): 2 finding(s) at or above HIGH (CRITICAL 1, HIGH 1, LOW 3); worst: CVE-crit (CRITICAL, openssl), CVE-high (HIGH, openssl)`
    )
  })

  test('enhanced findings are named by their vulnerability id', async () => {
    const { aws } = session([
      {
        imageScanStatus: { status: 'ACTIVE' },
        imageScanFindings: {
          findingSeverityCounts: { HIGH: 1 },
          enhancedFindings: [
            {
              severity: 'HIGH',
              title: 'CVE-9 - libxml2',
              packageVulnerabilityDetails: {
                vulnerabilityId: 'CVE-9',
                vulnerablePackages: [{ name: 'libxml2' }]
              }
            }
          ]
        }
      }
    ])
    await expect(
      checkScan(context(aws), [{ digest: D }], { severity: 'MEDIUM', waitSeconds: 0 })
    ).rejects.toThrow('worst: CVE-9 (HIGH, libxml2)')
  })

  test('a scan in progress is asked again until it completes', async () => {
    const { aws, calls } = session([status('IN_PROGRESS'), status('PENDING'), complete({})])
    const log: string[] = []
    await checkScan(context(aws, log), [{ digest: D }], { severity: 'LOW', waitSeconds: 60 })
    expect(calls).toHaveLength(3)
    expect(log).toEqual([`scan gate: the scan of ${D} is IN_PROGRESS; waiting`])
  })

  test.each([
    [[status('IN_PROGRESS')], `the scan of ${D} is still IN_PROGRESS after 0 s (scan-wait-seconds: 0)`],
    [[named('ScanNotFoundException')], `no scan of ${D} exists (ScanNotFoundException)`],
    [[status('FAILED', 'boom')], `the scan of ${D} is FAILED (boom), so it cannot vouch for the image`],
    [[status('UNSUPPORTED_IMAGE')], 'is UNSUPPORTED_IMAGE'],
    [[named('AccessDeniedException')], 'the AWS identity needs ecr:DescribeImageScanFindings']
  ])('never passes on no answer: %j', async (answers, message) => {
    const { aws } = session(answers)
    await expect(
      checkScan(context(aws), [{ digest: D }], { severity: 'CRITICAL', waitSeconds: 0 })
    ).rejects.toThrow(message)
  })

  test('untriaged and undefined findings count at low', async () => {
    const { aws } = session([complete({ UNTRIAGED: 1 }, [['CVE-new', 'UNTRIAGED']])])
    await expect(
      checkScan(context(aws), [{ digest: D }], { severity: 'LOW', waitSeconds: 0 })
    ).rejects.toThrow('worst: CVE-new (UNTRIAGED, openssl)')
    const { aws: again } = session([complete({ UNTRIAGED: 1, INFORMATIONAL: 4 })])
    await expect(
      checkScan(context(again), [{ digest: D }], { severity: 'MEDIUM', waitSeconds: 0 })
    ).resolves.toBeDefined()
  })

  test('an image with nothing to scan (attestation manifests only) is refused', async () => {
    const { aws, calls } = session([complete({})])
    await expect(checkScan(context(aws), [], { severity: 'LOW', waitSeconds: 0 })).rejects.toThrow(
      'has no platform image to scan'
    )
    expect(calls).toEqual([])
  })

  test('an index is scanned per platform image, attestation manifests left out', () => {
    const index = {
      manifests: [
        {
          mediaType: OCI_MANIFEST,
          size: 500,
          digest: `sha256:${'1'.repeat(64)}`,
          platform: { os: 'linux', architecture: 'amd64' }
        },
        {
          mediaType: OCI_MANIFEST,
          size: 500,
          digest: `sha256:${'2'.repeat(64)}`,
          platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }
        },
        {
          mediaType: OCI_MANIFEST,
          size: 500,
          digest: `sha256:${'3'.repeat(64)}`,
          platform: { os: 'unknown', architecture: 'unknown' }
        }
      ]
    }
    expect(
      scanTargets({ digest: D, mediaType: OCI_INDEX, bytes: Buffer.from(JSON.stringify(index)) })
    ).toEqual([
      { digest: `sha256:${'1'.repeat(64)}`, platform: 'linux/amd64' },
      { digest: `sha256:${'2'.repeat(64)}`, platform: 'linux/arm64/v8' }
    ])
    expect(scanTargets({ digest: D, mediaType: OCI_MANIFEST, bytes: Buffer.from('{"layers":[]}') })).toEqual([
      { digest: D }
    ])
  })
})

describe('ECR tag mutability', () => {
  test.each([
    ['MUTABLE', [], 'latest', false],
    ['IMMUTABLE', [], 'latest', true],
    ['IMMUTABLE_WITH_EXCLUSION', ['latest*'], 'latest', false],
    ['IMMUTABLE_WITH_EXCLUSION', ['latest*'], 'latest-arm', false],
    ['IMMUTABLE_WITH_EXCLUSION', ['latest*'], '1.4.2', true],
    ['MUTABLE_WITH_EXCLUSION', ['1.*'], '1.4.2', true],
    ['MUTABLE_WITH_EXCLUSION', ['1.*'], '10.0.0', false],
    ['MUTABLE_WITH_EXCLUSION', ['1.*'], 'latest', false]
  ] as const)('%s %j: %s immutable %s', (tagMutability, filters, tag, expected) => {
    expect(isImmutable(tag, { tagMutability, exclusionFilters: [...filters] })).toBe(expected)
  })

  const inputs = {
    destination: { registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com', repository: 'release/app' }
  } as unknown as Inputs
  const settings = { tagMutability: 'IMMUTABLE' as const, exclusionFilters: [] }
  test('a floating tag, or an overwrite elsewhere, under immutability is refused naming the rule', () => {
    expect(() =>
      checkTagMutability({ settings }, inputs, D, [{ tag: 'latest', floating: true }], ['latest'])
    ).toThrow(
      'floating tag latest is immutable there (IMMUTABLE), so it could never move; nothing was written'
    )
    expect(() =>
      checkTagMutability(
        { settings },
        inputs,
        D,
        [{ tag: '1.4.2', floating: false, current: 'sha256:old' }],
        ['1.4.2']
      )
    ).toThrow('tag 1.4.2 points at sha256:old and is immutable there (IMMUTABLE)')
  })

  test('a new guarded tag, a tag not written, or unknown settings pass', () => {
    expect(() =>
      checkTagMutability({ settings }, inputs, D, [{ tag: '1.4.3', floating: false }], ['1.4.3'])
    ).not.toThrow()
    expect(() =>
      checkTagMutability({ settings }, inputs, D, [{ tag: 'latest', floating: true }], [])
    ).not.toThrow()
    expect(() =>
      checkTagMutability({}, inputs, D, [{ tag: 'latest', floating: true }], ['latest'])
    ).not.toThrow()
  })
})
