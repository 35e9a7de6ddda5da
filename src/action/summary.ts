// The job summary: what was promoted, or what was checked, what failed and what was and was not
// written. Written for failed runs too. Values are HTML-escaped and code goes in <code>, because the
// summary's lists and tables are HTML, where Markdown backticks would show as they are.
import * as core from '@actions/core'
import type { Inputs } from '../promotion/options.js'
import { parseEcrHost } from '../aws/session.js'
import { displayReference, type Progress, type PromoteResult } from '../promotion/promote.js'
import { formatBytes, formatDuration, isDockerHub, type CopyStats } from '../registry/index.js'
import { formatCounts } from '../gates/scan.js'

export interface SummaryInput {
  inputs: Inputs
  result?: PromoteResult
  progress: Progress
  error?: Error
}

export async function writeSummary({ inputs, result, progress, error }: SummaryInput): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return
  const summary = core.summary
  const dryRun = inputs.dryRun ? ' (dry run)' : ''
  const destination = `${displayRegistryOf(inputs)}/${inputs.destination.repository}`
  summary.addHeading(`ecr-promote: ${result ? result.result : 'failed'}${dryRun}`, 3)
  const link = repositoryLink(inputs)
  const rows: [string, string][] = [
    ['Source', code(displayReference(inputs.source))],
    [
      'Destination',
      link ? `${code(destination)} (<a href="${escape(link)}">${linkLabel(inputs)}</a>)` : code(destination)
    ]
  ]
  const digest = result?.digest ?? progress.digest
  if (digest) rows.push(['Digest', code(digest)])
  if (result?.image) rows.push(['Image', code(result.image)])
  if (error) {
    rows.push(['Failed at', escape(progress.phase)])
    rows.push(['Error', escape(error.message)])
    rows.push(['Tags written', progress.written.length ? progress.written.map(code).join(', ') : 'none'])
  }
  const copy =
    result?.copy ?? (progress.copy.durationMs || hasActivity(progress.copy) ? progress.copy : undefined)
  rows.push(['Content', escape(describeContent(copy, inputs.dryRun, !!error))])
  if (result) {
    rows.push(['Duration', escape(formatDuration(result.durationMs))])
    for (const [side, limit] of Object.entries(result.rateLimits)) {
      if (limit?.remaining !== undefined) {
        rows.push([
          `Pull rate limit (${side})`,
          escape(`${limit.remaining}${limit.limit !== undefined ? ` of ${limit.limit}` : ''} remaining`)
        ])
      }
    }
  }
  summary.addTable([
    [
      { data: 'Item', header: true },
      { data: 'Value', header: true }
    ],
    ...rows
  ])

  addGates(result)
  const tagRows = tagTable(result, progress, error)
  if (tagRows.length) {
    summary.addHeading('Tags', 4)
    summary.addTable([
      [
        { data: 'Tag', header: true },
        { data: 'Before', header: true },
        { data: 'Outcome', header: true }
      ],
      ...tagRows
    ])
  }
  if (result?.platformEntries.length) {
    summary.addHeading('Platforms', 4)
    summary.addTable([
      [
        { data: 'Platform', header: true },
        { data: 'Manifest digest', header: true },
        { data: 'Size', header: true }
      ],
      ...result.platformEntries.map((e) => [
        escape(e.platform),
        code(e.digest),
        e.size !== undefined ? escape(formatBytes(e.size)) : '—'
      ])
    ])
  }
  if (result?.referrers.length) {
    summary.addHeading('Signatures and referrers', 4)
    summary.addTable([
      [
        { data: 'Artifact type', header: true },
        { data: 'Digest', header: true },
        { data: 'Subject', header: true },
        { data: 'Outcome', header: true }
      ],
      ...result.referrers.map((r) => [
        escape(r.artifactType) + (r.tag ? ` (tag ${code(r.tag)})` : ''),
        code(r.digest),
        code(r.subject),
        escape(r.state === 'present' ? 'already there' : r.state.replace('-', ' '))
      ])
    ])
  } else if (result && result.result !== 'skipped') {
    summary.addRaw(
      `<p>${result.referrersChecked ? 'Nothing refers to this image at the source (no signature, SBOM or attestation).' : 'Referrers were not looked for (referrers: false).'}</p>`,
      true
    )
  }
  await summary.write()
}

/** What the gates found: the key that verified, each image's scan counts. */
function addGates(result: PromoteResult | undefined): void {
  const gates = result?.gates
  const rows: string[][] = []
  if (gates?.signature) {
    const { key, via } = gates.signature
    rows.push([
      'Signature',
      `passed: ${escape(key.label)} ${code(key.fingerprint)} (${escape(key.origin)}), ${escape(via)}`
    ])
  }
  for (const image of gates?.scan?.images ?? []) {
    rows.push([
      `Scan${image.platform ? ` (${escape(image.platform)})` : ''}`,
      `passed: ${escape(image.status)}, ${escape(formatCounts(image.counts))} (${code(short(image.digest))})`
    ])
  }
  if (result?.repositoryCreated) {
    const how = result.repositoryCreated
    rows.push([
      'Repository',
      how === 'created'
        ? 'created (scan on push)'
        : how === 'would-create'
          ? 'would be created (dry run)'
          : `created on push by the creation template ${code(how.template)}`
    ])
  }
  if (!rows.length) return
  core.summary.addHeading('Gates and repository', 4)
  core.summary.addTable([
    [
      { data: 'Check', header: true },
      { data: 'Result', header: true }
    ],
    ...rows
  ])
}

function tagTable(result: PromoteResult | undefined, progress: Progress, error?: Error): string[][] {
  if (result) {
    return result.tagOutcomes.map((t) => [
      `${code(t.tag)}${t.floating ? ' (floating)' : ''}`,
      t.before ? code(t.before) : '—',
      escape(t.outcome.replace('-', ' ')) +
        (t.outcome === 'overwritten' || t.outcome === 'moved' ? ` (was ${code(short(t.before))})` : '') +
        (t.reason ? `: ${escape(t.reason)}` : '')
    ])
  }
  if (!error || !progress.states) return []
  return progress.states.map((s) => [
    `${code(s.tag)}${s.floating ? ' (floating)' : ''}`,
    s.current ? code(s.current) : '—',
    progress.written.includes(s.tag) ? 'written' : s.current === progress.digest ? 'unchanged' : 'not written'
  ])
}

function describeContent(copy: CopyStats | undefined, dryRun: boolean, failed: boolean): string {
  if (!copy) return failed ? 'no content was copied' : 'no content needed copying'
  const b = copy.blobs
  const parts: string[] = []
  if (dryRun) {
    parts.push(
      `would copy ${formatBytes(b['would-copy'].bytes)} in ${b['would-copy'].count} blobs and push ${copy.manifests.wouldPush} manifests`
    )
  } else {
    parts.push(`copied ${formatBytes(b.copied.bytes)} in ${b.copied.count} blobs`)
    if (b.mounted.count) parts.push(`mounted ${b.mounted.count} blobs (${formatBytes(b.mounted.bytes)})`)
    parts.push(`pushed ${copy.manifests.pushed} manifests`)
  }
  parts.push(`${b.present.count} blobs (${formatBytes(b.present.bytes)}) already present`)
  if (copy.foreign.count) parts.push(`${copy.foreign.count} foreign layers left at their URLs`)
  if (copy.unwalked) parts.push(`${copy.unwalked} manifests of unknown type copied unwalked`)
  if (copy.retries) parts.push(`${copy.retries} retries`)
  return parts.join('; ')
}

function hasActivity(copy: CopyStats): boolean {
  const b = copy.blobs
  return (
    b.copied.count + b.mounted.count + b.present.count + b['would-copy'].count + copy.manifests.pushed > 0
  )
}

/** The registry's web page for the repository, where it has one. */
export function repositoryLink(inputs: Inputs): string | undefined {
  const { registry, repository } = inputs.destination
  if (isDockerHub(registry)) return `https://hub.docker.com/r/${repository}/tags`
  if (registry === 'ghcr.io') {
    const [owner, ...name] = repository.split('/')
    // GitHub names a nested package with its slashes escaped.
    return `https://github.com/users/${owner}/packages/container/package/${encodeURIComponent(name.join('/'))}`
  }
  // The console has a host per partition; only the two public ones are linked.
  const ecr = parseEcrHost(registry)
  const host = registry.toLowerCase().replace(/:443$/, '')
  if (ecr && (host.endsWith('.amazonaws.com') || host.endsWith('.on.aws'))) {
    const site = ecr.region.startsWith('us-gov-') ? 'console.amazonaws-us-gov.com' : 'console.aws.amazon.com'
    return `https://${ecr.region}.${site}/ecr/repositories/private/${ecr.accountId}/${repository}?region=${ecr.region}`
  }
  return undefined
}

function linkLabel(inputs: Inputs): string {
  const { registry } = inputs.destination
  if (isDockerHub(registry)) return 'Docker Hub'
  if (registry === 'ghcr.io') return 'GitHub Packages'
  return 'ECR console'
}

function displayRegistryOf(inputs: Inputs): string {
  return isDockerHub(inputs.destination.registry) ? 'docker.io' : inputs.destination.registry
}

function short(digest: string | undefined): string {
  return digest ? `${digest.slice(0, 19)}…` : ''
}

function code(text: string): string {
  return `<code>${escape(text)}</code>`
}

export function escape(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!
  )
}
