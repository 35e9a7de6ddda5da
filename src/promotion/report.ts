// The promotion's result in words and as data, the same for every front.
import { formatBytes, formatDuration, formatReference, type RateLimit } from '../registry/index.js'
import type { PromoteResult } from './promote.js'
import type { SetResult } from './set.js'
import { formatCounts } from '../gates/scan.js'

/** The one closing line: result, digest, blobs, manifests, requests, rate limits, time, memory. */
export function totals(result: PromoteResult): string {
  const parts = [`${result.dryRun ? 'dry run, ' : ''}result ${result.result}`, `digest ${result.digest}`]
  const copy = result.copy
  if (copy) {
    const b = copy.blobs
    parts.push(
      `blobs: ${b.copied.count} copied (${formatBytes(b.copied.bytes)}), ${b.mounted.count} mounted, ` +
        `${b.present.count} already present (${formatBytes(b.present.bytes)})` +
        (b['would-copy'].count
          ? `, ${b['would-copy'].count} would be copied (${formatBytes(b['would-copy'].bytes)})`
          : '') +
        (copy.foreign.count ? `, ${copy.foreign.count} foreign layers left at their URLs` : '')
    )
    parts.push(
      `manifests: ${copy.manifests.pushed} pushed, ${copy.manifests.present} present` +
        (copy.manifests.wouldPush ? `, ${copy.manifests.wouldPush} would be pushed` : '')
    )
    if (copy.retries) parts.push(`${copy.retries} retries`)
  }
  if (result.referrers.length) {
    const count = (state: string) => result.referrers.filter((r) => r.state === state).length
    const moved = result.dryRun ? `${count('would-copy')} would be copied` : `${count('copied')} copied`
    parts.push(`referrers: ${moved}, ${count('present')} already there`)
  }
  const gates = gatesRecord(result)
  if (gates) {
    const passed = [
      gates.signature && `signature by ${gates.signature.key} (${gates.signature.fingerprint})`,
      gates.scan && `scan of ${gates.scan.images.length} image(s) (${formatCounts(gates.scan.counts)})`
    ].filter(Boolean)
    if (passed.length) parts.push(`gates passed: ${passed.join(', ')}`)
  }
  parts.push(`requests: ${result.requests.source} source, ${result.requests.destination} destination`)
  for (const [side, limit] of Object.entries(result.rateLimits)) {
    if (limit?.remaining !== undefined) parts.push(`${side} pull rate limit: ${describeRateLimit(limit)}`)
  }
  parts.push(`time ${formatDuration(result.durationMs)}`)
  parts.push(`peak memory ${formatBytes(process.resourceUsage().maxRSS * 1024)}`)
  return parts.join('; ')
}

export function describeRateLimit(limit: RateLimit): string {
  const window = limit.windowSeconds ? ` per ${Math.round(limit.windowSeconds / 3600)} h` : ''
  return `${limit.remaining}${limit.limit !== undefined ? ` of ${limit.limit}` : ''} remaining${window}`
}

/** The result as one JSON-ready object (the CLI's --output json). */
export function resultRecord(result: PromoteResult): Record<string, unknown> {
  const b = result.copy?.blobs
  return {
    digest: result.digest,
    image: result.image,
    result: result.result,
    dryRun: result.dryRun,
    tags: result.tags,
    platforms: result.platforms,
    referrers: referrersOutput(result),
    tagOutcomes: result.tagOutcomes,
    copied: { blobs: b?.copied.count ?? 0, bytes: b?.copied.bytes ?? 0 },
    mounted: { blobs: b?.mounted.count ?? 0, bytes: b?.mounted.bytes ?? 0 },
    skipped: { blobs: b?.present.count ?? 0, bytes: b?.present.bytes ?? 0 },
    wouldCopy: { blobs: b?.['would-copy'].count ?? 0, bytes: b?.['would-copy'].bytes ?? 0 },
    gates: gatesRecord(result),
    repositoryCreated: result.repositoryCreated,
    requests: result.requests,
    durationMs: result.durationMs
  }
}

/** What the gates found, as data: the key that verified, each scanned image's counts. */
export function gatesRecord(result: PromoteResult):
  | {
      signature?: { key: string; fingerprint: string; origin: string; via: string }
      scan?: {
        counts: Record<string, number>
        images: { digest: string; platform?: string; status: string; counts: Record<string, number> }[]
      }
    }
  | undefined {
  const { signature, scan } = result.gates ?? {}
  if (!signature && !scan) return undefined
  return {
    signature: signature && {
      key: signature.key.label,
      fingerprint: signature.key.fingerprint,
      origin: signature.key.origin,
      via: signature.via
    },
    scan: scan && { counts: scan.counts, images: scan.images }
  }
}

/**
 * What refers to the image at the destination after the run (the `referrers` output): in a dry run,
 * only what is there already.
 */
export function referrersOutput(
  result: PromoteResult
): { digest: string; artifactType: string; subject: string; kind: string; tag?: string }[] {
  return result.referrers
    .filter((r) => r.state !== 'would-copy')
    .map(({ digest, artifactType, subject, kind, tag }) => ({
      digest,
      artifactType,
      subject,
      kind,
      ...(tag ? { tag } : {})
    }))
}

/** The `images` output of a release set: one object per line. */
export function imagesOutput(set: SetResult): Record<string, unknown>[] {
  return set.images.map((r, i) => ({
    source: formatReference(set.members[i].inputs.source),
    destination: r.repository,
    digest: r.digest,
    image: r.image,
    result: r.result,
    tags: r.tags,
    platforms: r.platforms
  }))
}
