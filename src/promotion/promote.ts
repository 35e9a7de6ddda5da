// One promotion: resolve the source, check the destination's tags, copy what is missing, write the
// tags last, and confirm the destination serves the source's digest.
import { setMaxListeners } from 'node:events'
import type { Dispatcher } from 'undici'
import type { AwsSdk } from '../aws/sdk.js'
import type { Inputs } from './options.js'
import { decide, describeConflicts, type Decision, type TagState } from './policy.js'
import { accessHint, explainTagCheck } from './hints.js'
import { listPlatforms, type PlatformEntry } from './platforms.js'
import { createClient, logIn, proveWriteAccess } from './access.js'
import {
  displayReference,
  displayRegistry,
  failureKind,
  PromotionError,
  wrap,
  type FailureKind
} from './errors.js'
import { checkTags, confirm, writeTags } from './tags.js'
import { subjectsOf, TrustCopy, type ReferrerEntry, type TrustResult } from './trust.js'
import {
  copyContent,
  emptyCopyStats,
  ProxyAwareDispatcher,
  readProxyEnvironment,
  RegistryClient,
  repositoryScope,
  requireManifest,
  type CopyStats,
  type Logger,
  type Manifest,
  type NetworkOptions,
  type RateLimit
} from '../registry/index.js'

export { displayReference, displayRegistry, failureKind, PromotionError, type FailureKind }

export type Result = 'copied' | 'unchanged' | 'skipped'
export type TagOutcome =
  | 'written'
  | 'overwritten'
  | 'moved'
  | 'unchanged'
  | 'conflict'
  | 'not-written'
  | 'would-write'
  | 'would-overwrite'

export interface Reporter extends Logger {
  group<T>(name: string, task: () => Promise<T>): Promise<T>
}

/** What a promotion has done so far: filled as it goes, so a failure can still be reported. */
export interface Progress {
  /** The step running now, in words ("copy content"). */
  phase: string
  digest?: string
  mediaType?: string
  states?: TagState[]
  copy: CopyStats
  /** Tags written so far, in order. */
  written: string[]
}

export type { ReferrerEntry }

export function newProgress(): Progress {
  return { phase: 'read inputs', copy: emptyCopyStats(), written: [] }
}

export interface PromoteOptions {
  reporter: Reporter
  signal?: AbortSignal
  /** Defaults to a keep-alive pool that honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY. */
  dispatcher?: Dispatcher
  onSecret?: (secret: string) => void
  /** The workflow's OIDC token for an audience (core.getIDToken in the action). */
  getIdToken?: (audience: string) => Promise<string>
  /** How the AWS SDK loads (lazySdk in the action, bundledSdk in the CLI); needed for ECR hosts. */
  sdk?: AwsSdk
  /** `other` when getIdToken reads a token given to the job (GitLab id_tokens, a token file). */
  tokenSource?: 'github' | 'other'
  /** Timeouts and retry budgets (defaults: DEFAULT_NETWORK). */
  network?: Partial<NetworkOptions>
  /** Filled as the promotion goes (the caller reads it when the promotion fails). */
  progress?: Progress
}

export interface PromoteResult {
  digest: string
  mediaType: string
  /** REGISTRY/REPO@DIGEST at the destination; empty when the run left no such image there. */
  image: string
  /** The destination repository as users write it (docker.io/acme/app). */
  repository: string
  result: Result
  dryRun: boolean
  /** Tags that point at the digest when the run ends. */
  tags: string[]
  tagOutcomes: { tag: string; floating: boolean; before?: string; outcome: TagOutcome }[]
  platforms: string[]
  platformEntries: PlatformEntry[]
  /** What refers to the image (signatures, SBOMs, attestations) and what this run did with each. */
  referrers: ReferrerEntry[]
  /** Whether referrers were looked for (the `referrers` input). */
  referrersChecked: boolean
  copy?: CopyStats
  requests: { source: number; destination: number }
  /** Pull rate limits the registries announced (Docker Hub does). */
  rateLimits: { source?: RateLimit; destination?: RateLimit }
  durationMs: number
}

export async function promote(inputs: Inputs, options: PromoteOptions): Promise<PromoteResult> {
  const started = Date.now()
  const { reporter } = options
  const progress = options.progress ?? newProgress()
  const dispatcher = options.dispatcher ?? new ProxyAwareDispatcher(readProxyEnvironment(), options.network)
  const destRepo = inputs.destination.repository
  const destScopes = [repositoryScope(destRepo, 'pull,push')]
  const repository = `${displayRegistry(inputs.destination.registry)}/${destRepo}`
  let source: RegistryClient | undefined
  let destination: RegistryClient | undefined
  // Ends every request still in flight when the promotion fails: work started alongside the step
  // that failed (the walk beside a proof of write access, say) must not go on retrying.
  const done = new AbortController()
  const signal = options.signal ? AbortSignal.any([options.signal, done.signal]) : done.signal
  setMaxListeners(0, done.signal, signal)

  try {
    progress.phase = 'log in'
    // Each side starts as soon as its own login is done: the destination's token and tag checks run
    // while the source's AWS login and manifest are still on their way.
    const [sourceLogin, destinationLogin] = logIn(inputs, options, dispatcher)
    const sourceReady = sourceLogin.then(
      (c) => (source = createClient(inputs.source, c, options, dispatcher, signal))
    )
    const destinationReady = destinationLogin.then(
      (c) => (destination = createClient(inputs.destination, c, options, dispatcher, signal))
    )

    const { root, states, src, dst } = await reporter.group('Resolve source and check destination tags', () =>
      resolveAndCheck(inputs, reporter, progress, sourceReady, destinationReady, destScopes)
    )
    const decision = decide(root.digest, states, inputs.ifExists)
    // Platforms are for the report: read them while the copy runs.
    const listing = listPlatforms(src, inputs.source.repository, root, reporter)

    const finish = async (
      result: Result,
      tags: string[],
      outcomes: PromoteResult['tagOutcomes'],
      copy?: CopyStats,
      trust?: TrustResult
    ): Promise<PromoteResult> => {
      const platformEntries = await listing
      if (copy) for (const entry of platformEntries) entry.size ??= copy.imageSizes[entry.digest]
      // The image exists there when this run wrote it, or when a tag already pointed at it.
      const present = (result === 'copied' && !inputs.dryRun) || tags.length > 0
      return {
        digest: root.digest,
        mediaType: root.mediaType,
        image: present ? `${repository}@${root.digest}` : '',
        repository,
        dryRun: inputs.dryRun,
        platforms: [...new Set(platformEntries.map((e) => e.platform))],
        platformEntries,
        referrers: trust?.entries ?? [],
        referrersChecked: inputs.referrers,
        result,
        tags,
        tagOutcomes: outcomes,
        copy,
        requests: { source: src.stats.requests, destination: dst.stats.requests },
        rateLimits: { source: src.rateLimit, destination: dst.rateLimit },
        durationMs: Date.now() - started
      }
    }

    if (decision.action === 'fail') {
      throw new PromotionError(
        `destination ${repository}: ${describeConflicts(root.digest, decision.conflicts)}; ` +
          `nothing was written (if-exists: fail). Set if-exists to skip or overwrite, or promote under a new tag`,
        { kind: 'conflict' }
      )
    }
    if (decision.action === 'skip') {
      reporter.info(
        `skipped: ${describeConflicts(root.digest, decision.conflicts)} (if-exists: skip); nothing was written`
      )
      return finish('skipped', decision.alreadyThere, outcomesFor(root.digest, states, decision, 'skip'))
    }
    // What refers to the image is looked for now, beside the copy; it lands before any user tag.
    const trust = inputs.referrers
      ? new TrustCopy({
          src,
          dst,
          inputs,
          root,
          subjects: subjectsOf(root),
          stats: progress.copy,
          log: reporter
        })
      : undefined

    if (decision.action === 'unchanged') {
      const carried = trust && (await carryTrust(trust, dst, inputs, reporter, progress, true))
      if (!carried?.changed) {
        reporter.info(`unchanged: every tag already points at ${root.digest}; nothing to do`)
        return finish(
          'unchanged',
          decision.alreadyThere,
          outcomesFor(root.digest, states, decision, 'unchanged'),
          undefined,
          carried
        )
      }
      const verb = inputs.dryRun ? 'would copy' : 'copied'
      reporter.info(`every tag already points at ${root.digest}; ${verb} what refers to it; tags untouched`)
      return finish(
        'copied',
        decision.alreadyThere,
        outcomesFor(root.digest, states, decision, 'unchanged'),
        progress.copy,
        carried
      )
    }

    const copy = await copyAfterProof(src, dst, inputs, root, decision, reporter, progress, trust)
    const carried =
      trust && (await carryTrust(trust, dst, inputs, reporter, progress, decision.alreadyThere.length > 0))

    if (inputs.dryRun) {
      reporter.info(`dry run: would write tags ${decision.write.join(', ')}; nothing was written`)
      return finish(
        'copied',
        decision.alreadyThere,
        outcomesFor(root.digest, states, decision, 'dry-run'),
        copy,
        carried
      )
    }

    progress.phase = 'write tags'
    const note = copy.foreign.count
      ? `all content is present except ${copy.foreign.count} foreign layer(s), which are served from their URLs`
      : 'all content is present'
    await reporter.group('Write tags', () =>
      writeTags(dst, destRepo, root, states, decision.write, reporter, progress.written, note).catch(
        (error: unknown) => {
          throw wrap(`destination ${repository}`, error)
        }
      )
    )
    progress.phase = 'confirm'
    await confirm(dst, destRepo, decision.write[0], root.digest, destScopes)
    reporter.info(`confirmed: ${destRepo}:${decision.write[0]} serves ${root.digest}`)
    const tags = states.map((s) => s.tag)
    return finish('copied', tags, outcomesFor(root.digest, states, decision, 'copy'), copy, carried)
  } catch (error) {
    // On success everything started has been awaited; on failure, work started alongside the step
    // that failed must not go on.
    done.abort(new PromotionError('the promotion has failed'))
    throw error
  } finally {
    await Promise.all([source?.close(), destination?.close()])
    // A failed run may leave connections half-open (a stalled proxy): drop them rather than wait.
    if (!options.dispatcher) await (done.signal.aborted ? dispatcher.destroy() : dispatcher.close())
  }
}

/**
 * Resolves the source's manifest and checks every destination tag, each side as soon as its client
 * is ready. A destination login failure is reported as such, not as a failed tag check.
 */
async function resolveAndCheck(
  inputs: Inputs,
  reporter: Reporter,
  progress: Progress,
  sourceReady: Promise<RegistryClient>,
  destinationReady: Promise<RegistryClient>,
  destScopes: string[]
): Promise<{ root: Manifest; states: TagState[]; src: RegistryClient; dst: RegistryClient }> {
  progress.phase = 'resolve the source and check the destination tags'
  const sourceRef = inputs.source.digest ?? inputs.source.tag ?? ''
  const resolving = sourceReady.then((client) =>
    requireManifest(client, inputs.source.repository, sourceRef).catch((error: unknown) => {
      throw wrap(
        `resolve source ${displayReference(inputs.source)}`,
        error,
        accessHint(inputs, 'source', error)
      )
    })
  )
  const wanted = [
    ...inputs.tags.map((tag) => ({ tag, floating: false })),
    ...inputs.floatingTags.map((tag) => ({ tag, floating: true }))
  ]
  const where = `destination ${displayRegistry(inputs.destination.registry)}`
  const checking = destinationReady.then((client) =>
    client.auth
      .authorization(destScopes)
      .catch((error: unknown) => {
        throw wrap(`authenticate to ${where}`, error, accessHint(inputs, 'destination', error))
      })
      .then(() => checkTags(client, inputs.destination.repository, wanted, destScopes))
      .catch((error: unknown) => {
        if (error instanceof PromotionError) throw error
        throw wrap(
          `check destination tags of ${displayRegistry(inputs.destination.registry)}/${inputs.destination.repository}`,
          error,
          explainTagCheck(inputs, error)
        )
      })
  )
  const [root, states, src, dst] = await Promise.all([resolving, checking, sourceReady, destinationReady])
  progress.digest = root.digest
  progress.mediaType = root.mediaType
  progress.states = states
  reporter.info(`source ${displayReference(inputs.source)} is ${root.digest} (${root.mediaType})`)
  for (const state of states) {
    const now = state.current ? `points at ${state.current}` : 'does not exist'
    reporter.info(`destination tag ${state.tag}${state.floating ? ' (floating)' : ''} ${now}`)
  }
  return { root, states, src, dst }
}

/**
 * Copies what the destination lacks. Write access is proven while the image is walked and checked;
 * no download or upload starts before it is, and its failure is the error reported.
 */
async function copyAfterProof(
  src: RegistryClient,
  dst: RegistryClient,
  inputs: Inputs,
  root: Manifest,
  decision: Decision,
  reporter: Reporter,
  progress: Progress,
  trust?: TrustCopy
): Promise<CopyStats> {
  const destRepo = inputs.destination.repository
  progress.phase = inputs.dryRun ? 'check content (dry run)' : 'prove write access and copy content'
  const gate = proveWriteAccess(dst, inputs, reporter)
  gate.catch(() => undefined)
  const copying = reporter.group(inputs.dryRun ? 'Check content (dry run)' : 'Copy content', () =>
    copyContent({
      source: { client: src, repository: inputs.source.repository },
      destination: { client: dst, repository: destRepo },
      root,
      rootPresent: decision.alreadyThere.length > 0,
      concurrency: inputs.concurrency,
      dryRun: inputs.dryRun,
      writeGate: gate,
      stats: progress.copy
    })
  )
  copying.catch(() => undefined)
  // The attachments' content moves beside the image's; their manifests wait for the image.
  trust?.start(gate)
  copying.catch((error: unknown) => trust?.abandon(error))
  await gate.catch((error: unknown) => {
    trust?.abandon(error)
    throw error
  })
  if (!inputs.dryRun) progress.phase = 'copy content'
  return copying.catch((error: unknown) => {
    throw wrap(
      `copy ${root.digest} to ${displayRegistry(inputs.destination.registry)}/${destRepo}`,
      error,
      'no tag was written'
    )
  })
}

/**
 * Lands what refers to the image, after the image and before any user tag. On the unchanged path
 * (the tags hold the image already) write access is proven first, as for a copy.
 */
async function carryTrust(
  trust: TrustCopy,
  dst: RegistryClient,
  inputs: Inputs,
  reporter: Reporter,
  progress: Progress,
  rootPresent: boolean
): Promise<TrustResult> {
  progress.phase = inputs.dryRun ? 'check referrers (dry run)' : 'copy referrers'
  const where = `${displayRegistry(inputs.destination.registry)}/${inputs.destination.repository}`
  return reporter.group(
    inputs.dryRun ? 'Check referrers (dry run)' : 'Copy signatures and referrers',
    async () => {
      const { plan } = await trust.planned.catch((error: unknown) => {
        throw wrap(`find what refers to ${progress.digest ?? 'the image'}`, error, 'no tag was written')
      })
      if (plan.changes && !inputs.dryRun && !trust.started) {
        const gate = proveWriteAccess(dst, inputs, reporter)
        trust.start(gate)
        await gate
      }
      return trust.release(rootPresent).catch((error: unknown) => {
        throw wrap(`copy what refers to the image to ${where}`, error, 'no tag was written')
      })
    }
  )
}

function outcomesFor(
  digest: string,
  states: TagState[],
  decision: Decision,
  mode: 'copy' | 'skip' | 'unchanged' | 'dry-run'
): PromoteResult['tagOutcomes'] {
  return states.map((s) => {
    let outcome: TagOutcome
    const replaces = s.current !== undefined && s.current !== digest
    if (s.current === digest) outcome = 'unchanged'
    else if (mode === 'copy') outcome = replaces ? (s.floating ? 'moved' : 'overwritten') : 'written'
    else if (mode === 'dry-run') outcome = replaces ? 'would-overwrite' : 'would-write'
    else outcome = decision.conflicts.includes(s) ? 'conflict' : 'not-written'
    return { tag: s.tag, floating: s.floating, before: s.current, outcome }
  })
}
