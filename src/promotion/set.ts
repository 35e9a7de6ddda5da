// A release set: many promotions in one step, all or nothing. Every image is staged (resolved,
// checked, proven writable, copied with what refers to it) at once, on one connection pool, one
// login per registry and one concurrency budget; only when every image is ready are tags written.
import type { Inputs } from './options.js'
import {
  newProgress,
  stagePromotion,
  type Progress,
  type PromoteOptions,
  type PromoteResult,
  type Reporter,
  type Result,
  type Staged
} from './promote.js'
import { displayReference, displayRegistry, failureKind, PromotionError } from './errors.js'
import { SharedSession } from './shared.js'
import { hasGates } from '../gates/index.js'
import { ProxyAwareDispatcher, readProxyEnvironment } from '../registry/index.js'

export interface SetMember {
  inputs: Inputs
  line?: number
}

export interface SetResult {
  /** copied if any image was written, else skipped if any was skipped, else unchanged. */
  result: Result
  /** One per line, in line order. */
  images: PromoteResult[]
  members: SetMember[]
  durationMs: number
}

/** What each member had done when the set failed (for the error and the summary). */
export interface SetProgress {
  members: { member: SetMember; progress: Progress }[]
}

export function newSetProgress(members: SetMember[]): SetProgress {
  return { members: members.map((member) => ({ member, progress: newProgress() })) }
}

export async function promoteSet(
  members: SetMember[],
  options: PromoteOptions,
  setProgress: SetProgress = newSetProgress(members)
): Promise<SetResult> {
  const started = Date.now()
  const concurrency = Math.max(...members.map((m) => m.inputs.concurrency))
  const shared = new SharedSession(concurrency, options.signal)
  // Gates and repository creation run for every image before any image writes.
  if (members.some((m) => hasGates(m.inputs.gates) || m.inputs.ecr.createRepository)) {
    shared.expectChecks(members.length)
  }
  const dispatcher = options.dispatcher ?? new ProxyAwareDispatcher(readProxyEnvironment(), options.network)
  const base = { ...options, dispatcher, shared, signal: shared.signal }
  const staged: (Staged | undefined)[] = members.map(() => undefined)
  let failed = true
  try {
    // The first image to fail ends the others' work at once: nothing of the set will be tagged.
    let first = -1
    const attempts = await Promise.allSettled(
      members.map(async (member, i) => {
        const reporter = prefixed(options.reporter, nameOf(member))
        const progress = setProgress.members[i].progress
        try {
          staged[i] = await stagePromotion(member.inputs, { ...base, reporter, progress })
        } catch (error) {
          if (first === -1) {
            first = i
            shared.abort(new PromotionError(`${describe(member)} has failed`))
          }
          throw error
        }
      })
    )
    if (first !== -1) {
      const error = (attempts[first] as PromiseRejectedResult).reason as Error
      throw new PromotionError(
        `${describe(members[first])}: ${error.message}; no release tag was written for any image of the set`,
        { cause: error, kind: failureKind(error) }
      )
    }
    options.reporter.info(`all ${members.length} images are ready: writing their tags`)
    const commits = await Promise.allSettled(staged.map((s) => (s as Staged).commit()))
    const broken = commits.findIndex((c) => c.status === 'rejected')
    if (broken !== -1) {
      const error = (commits[broken] as PromiseRejectedResult).reason as Error
      throw new PromotionError(
        `${describe(members[broken])}: ${error.message}; ${describeWritten(members, staged, setProgress)}`,
        { cause: error, kind: failureKind(error) }
      )
    }
    const images = commits.map((c) => (c as PromiseFulfilledResult<PromoteResult>).value)
    failed = false
    return { result: setOutcome(images), images, members, durationMs: Date.now() - started }
  } finally {
    await Promise.all(staged.map((s) => s?.close(failed)))
    await shared.close()
    if (!options.dispatcher) await (failed ? dispatcher.destroy() : dispatcher.close())
  }
}

export function setOutcome(images: PromoteResult[]): Result {
  if (images.some((r) => r.result === 'copied')) return 'copied'
  if (images.some((r) => r.result === 'skipped')) return 'skipped'
  return 'unchanged'
}

function describeWritten(members: SetMember[], staged: (Staged | undefined)[], set: SetProgress): string {
  const parts = members.map((member, i) => {
    const written = set.members[i].progress.written
    const left = (staged[i]?.pending ?? []).filter((t) => !written.includes(t))
    return `${nameOf(member)}: ${written.length ? `written ${written.join(', ')}` : 'no tag written'}${left.length ? `, not written ${left.join(', ')}` : ''}`
  })
  return `tags by image: ${parts.join('; ')}`
}

function describe(member: SetMember): string {
  const where = member.line ? `image on line ${member.line}` : 'image'
  const { destination } = member.inputs
  return `${where} (${displayReference(member.inputs.source)} -> ${displayRegistry(destination.registry)}/${destination.repository})`
}

/** A short name for the log: the destination repository's last part, and its line. */
export function nameOf(member: SetMember): string {
  const name = member.inputs.destination.repository.split('/').pop() ?? member.inputs.destination.repository
  return member.line ? `${name}#${member.line}` : name
}

/** Each image's lines carry its name; groups do not nest in a runner's log, so they become lines. */
function prefixed(reporter: Reporter, name: string): Reporter {
  const tag = `[${name}] `
  return {
    debug: (m) => reporter.debug(tag + m),
    info: (m) => reporter.info(tag + m),
    warning: (m) => reporter.warning(tag + m),
    group: async (title, task) => {
      reporter.info(`${tag}${title}`)
      return task()
    }
  }
}
