// The scan gate: an ECR source's scan findings (basic or enhanced scanning) for every image that
// would be promoted, waited for while the scan runs, then refused at or above a severity. A scan that
// never ran, failed or cannot cover the image refuses too: the gate never passes on no answer.
import type { AwsSession, EcrRegistry } from '../aws/session.js'
import {
  awsErrorName,
  describeScanFindings,
  isAccessDenied,
  type Finding,
  type ScanReport
} from '../aws/ecr-api.js'
import { SEVERITIES, type ScanRequirement } from './options.js'
import { GateRefusal } from './signature.js'
import { formatPlatform, parseDocument, sleep, type Manifest } from '../registry/index.js'

export interface ScanTarget {
  digest: string
  /** linux/amd64, for a child of an index. */
  platform?: string
}

export interface ScannedImage extends ScanTarget {
  status: string
  counts: Record<string, number>
}

export interface ScanVerdict {
  images: ScannedImage[]
  /** Counts per severity over every image. */
  counts: Record<string, number>
}

/** Untriaged and undefined findings may be anything: they count at `low`, never below. */
const RANK: Record<string, number> = { CRITICAL: 4, HIGH: 3, MEDIUM: 2, LOW: 1, UNTRIAGED: 1, UNDEFINED: 1 }
const ORDER = [...SEVERITIES, 'INFORMATIONAL', 'UNDEFINED', 'UNTRIAGED']
const WAITING = new Set(['IN_PROGRESS', 'PENDING'])
const DONE = new Set(['COMPLETE', 'ACTIVE'])
const WORST_NAMED = 5

export interface ScanGateContext {
  aws: AwsSession
  registry: EcrRegistry
  repository: string
  /** The source as users wrote it, for messages. */
  where: string
  signal?: AbortSignal
  log: { info(message: string): void }
  /** For tests of the waiting; defaults to a timer that the signal ends. */
  sleep?: (ms: number) => Promise<void>
}

/** The platform images of an index (attestation manifests left out), or the image itself. */
export function scanTargets(root: Manifest): ScanTarget[] {
  let document: ReturnType<typeof parseDocument>
  try {
    document = parseDocument(root)
  } catch {
    return [{ digest: root.digest }]
  }
  if (!('manifests' in document)) return [{ digest: root.digest }]
  return document.manifests
    .filter((m) => m.platform?.os !== 'unknown')
    .map((m) => ({ digest: m.digest, platform: m.platform ? formatPlatform(m.platform) : undefined }))
}

export async function checkScan(
  context: ScanGateContext,
  targets: ScanTarget[],
  requirement: ScanRequirement
): Promise<ScanVerdict> {
  if (!targets.length) {
    throw new GateRefusal(`${context.where} has no platform image to scan (only attestation manifests)`)
  }
  const waitMs = requirement.waitSeconds * 1000
  const deadline = Date.now() + waitMs
  const interval = Math.min(5000, Math.max(1000, waitMs / 20))
  const wait = context.sleep ?? ((ms: number) => sleep(ms, context.signal))
  const reports = await Promise.all(
    targets.map(async (target) => {
      for (let asked = 0; ; asked++) {
        const report = await describe(context, target)
        const left = deadline - Date.now()
        if (!WAITING.has(report.status) || left <= 0) return { target, report }
        if (asked === 0)
          context.log.info(`scan gate: the scan of ${label(target)} is ${report.status}; waiting`)
        // The last look is at the deadline itself.
        await wait(Math.min(interval, left))
      }
    })
  )
  for (const { target, report } of reports) refuseUnfinished(context, target, report, requirement)
  const counts: Record<string, number> = {}
  for (const { report } of reports) {
    for (const [severity, n] of Object.entries(report.counts)) counts[severity] = (counts[severity] ?? 0) + n
  }
  const threshold = RANK[requirement.severity]
  const failing = reports.filter(({ report }) =>
    Object.entries(report.counts).some(([severity, n]) => n > 0 && (RANK[severity] ?? 0) >= threshold)
  )
  if (failing.length) {
    const details = failing.map(({ target, report }) => {
      const above = Object.entries(report.counts)
        .filter(([severity]) => (RANK[severity] ?? 0) >= threshold)
        .reduce((sum, [, n]) => sum + n, 0)
      return `${label(target)}: ${above} finding(s) at or above ${requirement.severity} (${formatCounts(report.counts)}); worst: ${worst(report.findings, threshold)}`
    })
    throw new GateRefusal(
      `findings at or above ${requirement.severity} in ${context.where}: ${details.join('; ')}. ` +
        'Fix them and rebuild, or set fail-on-scan-severity higher'
    )
  }
  return {
    images: reports.map(({ target, report }) => ({
      ...target,
      status: report.status,
      counts: report.counts
    })),
    counts
  }
}

async function describe(context: ScanGateContext, target: ScanTarget): Promise<ScanReport> {
  try {
    return await describeScanFindings(context.aws, context.registry, context.repository, target.digest)
  } catch (error) {
    const name = awsErrorName(error)
    if (isAccessDenied(error)) {
      throw new GateRefusal(
        `DescribeImageScanFindings was refused for ${label(target)}: the AWS identity needs ` +
          `ecr:DescribeImageScanFindings on the source repository (${(error as Error).message})`,
        { cause: error }
      )
    }
    if (name === 'ImageNotFoundException' || name === 'RepositoryNotFoundException') {
      throw new GateRefusal(
        `ECR has no image ${label(target)} in ${context.repository} to report on (${name})`,
        {
          cause: error
        }
      )
    }
    throw new GateRefusal(
      `reading the scan findings of ${label(target)} failed: ${(error as Error).message}`,
      {
        cause: error
      }
    )
  }
}

function refuseUnfinished(
  context: ScanGateContext,
  target: ScanTarget,
  report: ScanReport,
  requirement: ScanRequirement
): void {
  if (DONE.has(report.status)) return
  const said = report.description ? ` (${report.description})` : ''
  if (WAITING.has(report.status)) {
    throw new GateRefusal(
      `the scan of ${label(target)} is still ${report.status} after ${requirement.waitSeconds} s ` +
        `(scan-wait-seconds: ${requirement.waitSeconds})${said}. Raise scan-wait-seconds, or promote again when the scan is done`
    )
  }
  if (report.status === 'NOT_FOUND') {
    throw new GateRefusal(
      `no scan of ${label(target)} exists (ScanNotFoundException). Turn on scan on push or enhanced ` +
        `scanning for ${context.repository}, or start one: aws ecr start-image-scan --repository-name ` +
        `${context.repository} --image-id imageDigest=${target.digest}`
    )
  }
  throw new GateRefusal(
    `the scan of ${label(target)} is ${report.status}${said}, so it cannot vouch for the image`
  )
}

function label(target: ScanTarget): string {
  return target.platform ? `${target.digest} (${target.platform})` : target.digest
}

export function formatCounts(counts: Record<string, number>): string {
  const parts = ORDER.filter((s) => counts[s]).map((s) => `${s} ${counts[s]}`)
  const others = Object.keys(counts).filter((s) => !ORDER.includes(s) && counts[s])
  return [...parts, ...others.map((s) => `${s} ${counts[s]}`)].join(', ') || 'no findings'
}

function worst(findings: Finding[], threshold: number): string {
  const seen = new Set<string>()
  const named = findings
    .filter((f) => (RANK[f.severity] ?? 0) >= threshold)
    .sort((a, b) => (RANK[b.severity] ?? 0) - (RANK[a.severity] ?? 0))
    .filter((f) => !seen.has(f.name) && seen.add(f.name))
  const shown = named
    .slice(0, WORST_NAMED)
    .map((f) => `${f.name} (${f.severity}${f.packageName ? `, ${f.packageName}` : ''})`)
  if (named.length > WORST_NAMED) shown.push(`${named.length - WORST_NAMED} more`)
  return shown.join(', ') || 'names not reported'
}
