// The action's entry: read inputs, promote, publish outputs and a summary. The one place that fails the step.
import * as core from '@actions/core'
import { setMaxListeners } from 'node:events'
import { writeSummary } from './summary.js'
import { writeSetSummary } from './set-summary.js'
import {
  nameOf,
  newSetProgress,
  promoteSet,
  type SetMember,
  type SetProgress,
  type SetResult
} from '../promotion/set.js'
import type { Inputs } from '../promotion/options.js'
import { readInputs, unknownInputWarnings } from './inputs.js'
import {
  newProgress,
  promote,
  type Progress,
  type PromoteResult,
  type Reporter
} from '../promotion/promote.js'
import { lazySdk, lazySigstore } from '../aws/sdk.js'
import { imagesOutput, referrersOutput, totals } from '../promotion/report.js'
import { readNetworkEnvironment } from '../registry/index.js'

/** After a cancel, the process ends within this even if something is still winding down. */
const CANCEL_GRACE_MS = 3_000

export async function run(): Promise<void> {
  const controller = new AbortController()
  // Every in-flight request listens on this one signal; dozens at once are expected, not a leak.
  setMaxListeners(0, controller.signal)
  const progress = newProgress()
  let inputs: Inputs | undefined
  let finished = false

  // The safety net: if the event loop drains before the promotion produced a result (a promise that
  // never settles), Node would end the process with exit code 0 — a green step that promoted
  // nothing. Fail instead, naming the step it was in.
  const onBeforeExit = (): void => {
    if (finished) return
    finished = true
    if (controller.signal.aborted) {
      core.setFailed(
        `promotion cancelled while at "${progress.phase}"; no tag write was started after the cancel`
      )
      process.exitCode = 1
      return
    }
    core.setFailed(
      `the promotion stopped without a result while it was at "${progress.phase}": nothing was left to wait ` +
        `for, yet no outcome was reached. This is a defect in ecr-promote; please report it with this log ` +
        `(set ACTIONS_STEP_DEBUG to true for more)`
    )
    process.exitCode = 1
  }
  process.on('beforeExit', onBeforeExit)

  const cancel = (signal: NodeJS.Signals): void => {
    core.warning(`received ${signal}: cancelling; no tag is written after this point`)
    controller.abort(new Error(`cancelled by ${signal}`))
    // Some waits cannot be interrupted (a connection still being opened): do not let them hold the
    // process after a cancel.
    setTimeout(() => {
      if (!finished) core.setFailed(`promotion cancelled by ${signal} while at "${progress.phase}"`)
      process.exit(1)
    }, CANCEL_GRACE_MS).unref()
  }
  process.once('SIGINT', cancel)
  process.once('SIGTERM', cancel)
  let result: PromoteResult | undefined
  let failure: Error | undefined
  let set: { members: SetMember[]; progress: SetProgress; result?: SetResult } | undefined
  try {
    const read = readInputs()
    for (const warning of unknownInputWarnings()) core.warning(warning)
    const options = {
      reporter: createReporter(progress),
      signal: controller.signal,
      onSecret: (secret: string) => core.setSecret(secret),
      getIdToken: (audience: string) => core.getIDToken(audience),
      network: readNetworkEnvironment(),
      sdk: lazySdk,
      sigstore: lazySigstore
    }
    if (read.set) {
      set = { members: read.members, progress: newSetProgress(read.members) }
      // The set's phase is its first image's: enough for the safety net's message.
      set.progress.members[0].progress = progress
      set.result = await promoteSet(read.members, options, set.progress)
      publishSet(set.result)
      for (const image of set.result.images) core.info(totals(image))
      core.info(
        `release set: ${set.result.result}; ${set.result.images.map((r, i) => `${nameOf(read.members[i])} ${r.result}`).join(', ')}`
      )
    } else {
      inputs = read.members[0].inputs
      result = await promote(inputs, { ...options, progress })
      publish(result)
      core.info(totals(result))
    }
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error))
    if (controller.signal.aborted) {
      core.setFailed(
        `promotion cancelled: ${(controller.signal.reason as Error).message} while at "${progress.phase}"; ` +
          `no tag write was started after the cancel${describeWritten(set, progress)}`
      )
    } else {
      core.setFailed(failure.message)
    }
    if (core.isDebug() && failure.stack) core.debug(failure.stack)
  }
  try {
    if (set) await writeSetSummary({ ...set, error: failure })
    else if (inputs) await writeSummary({ inputs, result, progress, error: failure })
  } catch (error) {
    core.warning(`could not write the job summary: ${(error as Error).message}`)
  } finally {
    finished = true
    process.removeListener('beforeExit', onBeforeExit)
    process.removeListener('SIGINT', cancel)
    process.removeListener('SIGTERM', cancel)
  }
  // A cancelled run ends now: what is left (a stalled connection attempt) only delays the exit.
  if (controller.signal.aborted) process.exit(1)
}

function createReporter(progress: { phase: string }): Reporter {
  return {
    debug: (message) => core.debug(message),
    info: (message) => core.info(message),
    warning: (message) => core.warning(message),
    group: (name, task) => {
      progress.phase = name.charAt(0).toLowerCase() + name.slice(1)
      return core.group(name, task)
    }
  }
}

/** The tags written before a cancel: per image in a set. */
function describeWritten(
  set: { members: SetMember[]; progress: SetProgress } | undefined,
  progress: Progress
): string {
  if (!set) return progress.written.length ? ` (tags written: ${progress.written.join(', ')})` : ''
  const parts = set.progress.members
    .filter((m) => m.progress.written.length)
    .map((m) => `${nameOf(m.member)}: ${m.progress.written.join(', ')}`)
  return parts.length ? ` (tags written: ${parts.join('; ')})` : ''
}

function publishSet(set: SetResult): void {
  publish(set.images[0])
  core.setOutput('result', set.result)
  core.setOutput('images', JSON.stringify(imagesOutput(set)))
}

function publish(result: PromoteResult): void {
  core.setOutput('digest', result.digest)
  core.setOutput('image', result.image)
  core.setOutput('result', result.result)
  core.setOutput('tags', result.tags.join(','))
  core.setOutput('platforms', JSON.stringify(result.platforms))
  core.setOutput('referrers', JSON.stringify(referrersOutput(result)))
}
