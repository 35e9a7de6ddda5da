// One promotion: resolve the source, check the destination's tags, copy what is missing, write the
// tags last, and confirm the destination serves the source's digest.
import { setMaxListeners } from 'node:events'
import type { Inputs } from './options.js'
import { decide, describeConflicts } from './policy.js'
import { listPlatforms } from './platforms.js'
import { createClient, exchangeAgain, logIn } from './access.js'
import {
  displayReference,
  displayRegistry,
  failureKind,
  PromotionError,
  wrap,
  type FailureKind
} from './errors.js'
import { confirm, writeTags } from './tags.js'
import { carryTrust, copyAfterProof, outcomesFor, resolveAndCheck } from './phases.js'
import { subjectsOf, TrustCopy, type TrustResult } from './trust.js'
import { checkBeforeWrites, type Checked } from './before-writes.js'
import {
  newProgress,
  type PromoteOptions,
  type PromoteResult,
  type Result,
  type Staged
} from './promote-types.js'
import {
  ProxyAwareDispatcher,
  readProxyEnvironment,
  RegistryClient,
  repositoryScope,
  type CopyStats,
  type Credentials
} from '../registry/index.js'

export { displayReference, displayRegistry, failureKind, PromotionError, type FailureKind }

export * from './promote-types.js'

export async function promote(inputs: Inputs, options: PromoteOptions): Promise<PromoteResult> {
  const staged = await stagePromotion(inputs, options)
  let failed = true
  try {
    const result = await staged.commit()
    failed = false
    return result
  } finally {
    await staged.close(failed)
  }
}

/**
 * Everything before the tags: log in, resolve, check, decide, prove write access, copy the content
 * and what refers to it. A failure closes what was opened and throws; success leaves the tags to
 * `commit` (a release set commits only once every image is staged).
 */
export async function stagePromotion(inputs: Inputs, options: PromoteOptions): Promise<Staged> {
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
  const close = async (failed: boolean): Promise<void> => {
    // On success everything started has been awaited; on failure, work started alongside the step
    // that failed must not go on.
    if (failed) done.abort(new PromotionError('the promotion has failed'))
    if (!options.shared) await Promise.all([source?.close(), destination?.close()])
    // A failed run may leave connections half-open (a stalled proxy): drop them rather than wait.
    if (!options.dispatcher) await (done.signal.aborted ? dispatcher.destroy() : dispatcher.close())
  }
  const ready = (result: Promise<PromoteResult>, pending: string[] = []): Staged => {
    result.catch(() => undefined)
    return { commit: () => result, close, pending, progress }
  }

  try {
    progress.phase = 'log in'
    // Each side starts as soon as its own login is done: the destination's token and tag checks run
    // while the source's AWS login and manifest are still on their way.
    const [sourceLogin, destinationLogin] = logIn(inputs, options, dispatcher)
    // A Docker Hub side on an OIDC connection exchanges again when its access token has expired.
    const refresh = (side: 'source' | 'destination') =>
      inputs.dockerHubOidc?.side === side ? () => exchangeAgain(inputs, options, dispatcher) : undefined
    const client = (side: 'source' | 'destination', credentials: Credentials | undefined) =>
      options.shared
        ? options.shared.client(side, inputs[side], credentials, () =>
            createClient(
              inputs[side],
              credentials,
              options,
              dispatcher,
              options.shared!.signal,
              refresh(side)
            )
          )
        : createClient(inputs[side], credentials, options, dispatcher, signal, refresh(side))
    const sourceReady = sourceLogin.then((c) => (source = client('source', c)))
    const destinationReady = destinationLogin.then((c) => (destination = client('destination', c)))

    for (const note of inputs.notes) reporter.info(note)
    const { root, states, src, dst, stays } = await reporter.group(
      'Resolve source and check destination tags',
      () => resolveAndCheck(inputs, reporter, progress, sourceReady, destinationReady, destScopes)
    )
    const decision = decide(root.digest, states, inputs.ifExists)
    let checked: Checked | undefined = undefined
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
        gates: checked?.gates,
        repositoryCreated: checked?.repository?.created,
        result,
        tags,
        tagOutcomes: [
          ...outcomes,
          ...stays.map(({ state, reason }) => ({
            tag: state.tag,
            floating: true,
            before: state.current,
            outcome: 'stays' as const,
            reason
          }))
        ],
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
      // Nothing is written, so the gates are not asked.
      options.shared?.arrive()
      reporter.info(
        `skipped: ${describeConflicts(root.digest, decision.conflicts)} (if-exists: skip); nothing was written`
      )
      return ready(
        finish('skipped', decision.alreadyThere, outcomesFor(root.digest, states, decision, 'skip'))
      )
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
          log: reporter,
          limiter: options.shared?.limiter
        })
      : undefined
    progress.phase = 'check before writing'
    // The gates and the destination's rules are checked while the copy walks the image (reads only);
    // no byte is downloaded or written before they pass.
    // An unchanged run without referrers writes nothing: the gates are not asked.
    const writesNothing = decision.action === 'unchanged' && !trust
    if (writesNothing) options.shared?.arrive()
    const checking = writesNothing
      ? Promise.resolve(undefined)
      : checkBeforeWrites({
          inputs,
          options,
          dispatcher,
          src,
          root,
          states,
          decision,
          trust,
          reporter,
          signal
        })
    checking.catch(() => undefined)

    if (decision.action === 'unchanged') {
      checked = await checking
      const carried = trust && (await carryTrust(trust, dst, inputs, reporter, progress, true))
      if (!carried?.changed) {
        reporter.info(`unchanged: every tag already points at ${root.digest}; nothing to do`)
        return ready(
          finish(
            'unchanged',
            decision.alreadyThere,
            outcomesFor(root.digest, states, decision, 'unchanged'),
            undefined,
            carried
          )
        )
      }
      const verb = inputs.dryRun ? 'would copy' : 'copied'
      reporter.info(`every tag already points at ${root.digest}; ${verb} what refers to it; tags untouched`)
      return ready(
        finish(
          'copied',
          decision.alreadyThere,
          outcomesFor(root.digest, states, decision, 'unchanged'),
          progress.copy,
          carried
        )
      )
    }

    const copy = await copyAfterProof(
      src,
      dst,
      inputs,
      root,
      decision,
      reporter,
      progress,
      trust,
      options.shared?.limiter,
      checking
    )
    checked = await checking
    const carried =
      trust && (await carryTrust(trust, dst, inputs, reporter, progress, decision.alreadyThere.length > 0))

    if (inputs.dryRun) {
      reporter.info(`dry run: would write tags ${decision.write.join(', ')}; nothing was written`)
      return ready(
        finish(
          'copied',
          decision.alreadyThere,
          outcomesFor(root.digest, states, decision, 'dry-run'),
          copy,
          carried
        )
      )
    }

    const commit = async (): Promise<PromoteResult> => {
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
    }
    return { commit, close, pending: decision.write, progress }
  } catch (error) {
    await close(true)
    throw error
  }
}
