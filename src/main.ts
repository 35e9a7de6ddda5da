// The action's entry: read inputs, promote, publish outputs and a summary. The one place that fails the step.
import * as core from '@actions/core'
import { setMaxListeners } from 'node:events'
import * as context from './context.js'
import { promote, type PromoteResult, type Reporter } from './promote.js'
import { formatBytes, formatDuration, type RateLimit } from './registry/index.js'

export async function run(): Promise<void> {
  const controller = new AbortController()
  // Every in-flight request listens on this one signal; dozens at once are expected, not a leak.
  setMaxListeners(0, controller.signal)
  const cancel = (signal: NodeJS.Signals): void => {
    core.warning(`received ${signal}: cancelling; no tag is written after this point`)
    controller.abort(new Error(`cancelled by ${signal}`))
  }
  process.once('SIGINT', cancel)
  process.once('SIGTERM', cancel)
  try {
    const inputs = context.getInputs()
    const result = await promote(inputs, {
      reporter: createReporter(),
      signal: controller.signal,
      onSecret: (secret) => core.setSecret(secret),
      getIdToken: (audience) => core.getIDToken(audience)
    })
    publish(result)
    core.info(totals(result))
    await writeSummary(inputs, result)
  } catch (error) {
    if (controller.signal.aborted) {
      core.setFailed(
        `promotion cancelled: ${(controller.signal.reason as Error).message}; no tag was written after the cancel`
      )
    } else {
      core.setFailed(error instanceof Error ? error.message : String(error))
    }
    if (core.isDebug() && error instanceof Error && error.stack) core.debug(error.stack)
  } finally {
    process.removeListener('SIGINT', cancel)
    process.removeListener('SIGTERM', cancel)
  }
}

function createReporter(): Reporter {
  return {
    debug: (message) => core.debug(message),
    info: (message) => core.info(message),
    warning: (message) => core.warning(message),
    group: (name, task) => core.group(name, task)
  }
}

function publish(result: PromoteResult): void {
  core.setOutput('digest', result.digest)
  core.setOutput('image', result.image)
  core.setOutput('result', result.result)
  core.setOutput('tags', result.tags.join(','))
  core.setOutput('platforms', JSON.stringify(result.platforms))
}

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
          : '')
    )
    parts.push(`manifests: ${copy.manifests.pushed} pushed, ${copy.manifests.present} present`)
    if (copy.retries) parts.push(`${copy.retries} retries`)
  }
  parts.push(`requests: ${result.requests.source} source, ${result.requests.destination} destination`)
  for (const [side, limit] of Object.entries(result.rateLimits)) {
    if (limit?.remaining !== undefined) parts.push(`${side} pull rate limit: ${describeRateLimit(limit)}`)
  }
  parts.push(`time ${formatDuration(result.durationMs)}`)
  parts.push(`peak memory ${formatBytes(process.resourceUsage().maxRSS * 1024)}`)
  return parts.join('; ')
}

function describeRateLimit(limit: RateLimit): string {
  const window = limit.windowSeconds ? ` per ${Math.round(limit.windowSeconds / 3600)} h` : ''
  return `${limit.remaining}${limit.limit !== undefined ? ` of ${limit.limit}` : ''} remaining${window}`
}

async function writeSummary(inputs: context.Inputs, result: PromoteResult): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return
  const copy = result.copy
  const rows = [
    [
      { data: 'Tag', header: true },
      { data: 'Before', header: true },
      { data: 'Outcome', header: true }
    ],
    ...result.tagOutcomes.map((t) => [
      `${t.tag}${t.floating ? ' (floating)' : ''}`,
      t.before ? `\`${t.before.slice(0, 19)}…\`` : '—',
      t.outcome
    ])
  ]
  await core.summary
    .addHeading(`ecr-promote: ${result.result}${result.dryRun ? ' (dry run)' : ''}`, 3)
    .addList([
      `Source: \`${inputs.source.registry}/${inputs.source.repository}${inputs.source.digest ? '@' + inputs.source.digest : ':' + inputs.source.tag}\``,
      `Destination: \`${result.image}\``,
      `Digest: \`${result.digest}\``,
      `Platforms: ${result.platforms.join(', ') || '—'}`,
      copy
        ? `Copied ${formatBytes(copy.blobs.copied.bytes)} in ${copy.blobs.copied.count} blobs, mounted ${copy.blobs.mounted.count}, skipped ${formatBytes(copy.blobs.present.bytes)} already present`
        : 'No content copied',
      `Duration: ${formatDuration(result.durationMs)}`,
      ...Object.entries(result.rateLimits)
        .filter(([, limit]) => limit?.remaining !== undefined)
        .map(([side, limit]) => `Pull rate limit (${side}): ${describeRateLimit(limit!)}`)
    ])
    .addTable(rows)
    .write()
}
