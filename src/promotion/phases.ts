// The steps of a promotion, each with its own failure wording: resolve and check, copy after the proof
// of write access, carry the trust chain, and the tag outcomes for the report.
import type { Inputs } from './options.js'
import type { Decision, TagState } from './policy.js'
import { accessHint, explainTagCheck } from './hints.js'
import { proveWriteAccess, sourceImageStatus } from './access.js'
import { displayReference, displayRegistry, PromotionError, wrap } from './errors.js'
import { checkTags } from './tags.js'
import { decideFloating, deriveFloatingTags } from './floating.js'
import type { TrustCopy, TrustResult } from './trust.js'
import type { Progress, PromoteResult, Reporter, TagOutcome } from './promote.js'
import {
  copyContent,
  listTags,
  RegistryError,
  requireManifest,
  type CopyStats,
  type Limiter,
  type Manifest,
  type RegistryClient
} from '../registry/index.js'

/**
 * Resolves the source's manifest and checks every destination tag, each side as soon as its client
 * is ready. A destination login failure is reported as such, not as a failed tag check.
 */
export async function resolveAndCheck(
  inputs: Inputs,
  reporter: Reporter,
  progress: Progress,
  sourceReady: Promise<RegistryClient>,
  destinationReady: Promise<RegistryClient>,
  destScopes: string[]
): Promise<{
  root: Manifest
  states: TagState[]
  src: RegistryClient
  dst: RegistryClient
  stays: { state: TagState; reason: string }[]
}> {
  progress.phase = 'resolve the source and check the destination tags'
  const sourceRef = inputs.source.digest ?? inputs.source.tag ?? ''
  const resolving = sourceReady.then((client) =>
    requireManifest(client, inputs.source.repository, sourceRef).catch(async (error: unknown) => {
      // ECR answers 404 for an archived image: say so, and how to restore it.
      const status =
        error instanceof RegistryError && error.status === 404
          ? await sourceImageStatus(inputs, inputs.source.repository, sourceRef)
          : undefined
      if (status === 'ARCHIVED' || status === 'ACTIVATING') {
        throw new PromotionError(
          `resolve source ${displayReference(inputs.source)}: the image is ${status === 'ARCHIVED' ? 'archived' : 'being restored from the archive'} ` +
            `(ECR archive storage class), so ECR answers 404 to a pull. ` +
            (status === 'ARCHIVED'
              ? `Restore it (aws ecr update-image-storage-class --repository-name ${inputs.source.repository} ` +
                `--image-id ${sourceRef.includes(':') ? `imageDigest=${sourceRef}` : `imageTag=${sourceRef}`} --target-storage-class STANDARD), ` +
                'wait until it is ACTIVE, then promote again'
              : 'Wait until it is ACTIVE, then promote again'),
          { cause: error }
        )
      }
      throw wrap(
        `resolve source ${displayReference(inputs.source)}`,
        error,
        accessHint(inputs, 'source', error)
      )
    })
  )
  const derived = inputs.floatingAuto ? deriveFloatingTags(inputs.tags) : undefined
  if (inputs.floatingAuto && !derived) {
    reporter.warning(
      `floating-tags: auto: none of the tags (${inputs.tags.join(', ')}) is a semantic version ` +
        '(1.4.2 or v1.4.2), so no floating tag is derived'
    )
  }
  // An explicit floating tag is always moved, even one auto would derive too.
  const explicit = new Set([...inputs.tags, ...inputs.floatingTags])
  const derivedTags = (derived?.tags ?? []).map((t) => t.tag).filter((t) => !explicit.has(t))
  const wanted = [
    ...inputs.tags.map((tag) => ({ tag, floating: false })),
    ...[...inputs.floatingTags, ...derivedTags].map((tag) => ({ tag, floating: true }))
  ]
  const where = `destination ${displayRegistry(inputs.destination.registry)}`
  // The tag list (not a Docker Hub pull) tells which releases the destination has.
  const listing = derivedTags.length
    ? destinationReady.then((client) => listTags(client, inputs.destination.repository, destScopes))
    : Promise.resolve(undefined)
  listing.catch(() => undefined)
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
  const [root, checked, src, dst] = await Promise.all([resolving, checking, sourceReady, destinationReady])
  let states = checked
  const stays: { state: TagState; reason: string }[] = []
  if (derived && derivedTags.length) {
    const repository = `${displayRegistry(inputs.destination.registry)}/${inputs.destination.repository}`
    const existing = await listing.catch((error: unknown) => {
      throw wrap(`list the tags of ${repository} (floating-tags: auto)`, error)
    })
    if (!existing) {
      throw new PromotionError(
        `floating-tags: auto needs the tag list of ${repository} to know the newest release, and the ` +
          'registry would not list it (ECR: allow ecr:ListImages); nothing was written. Name the floating tags instead',
        { kind: 'access' }
      )
    }
    for (const decision of decideFloating(derived, existing)) {
      if (!derivedTags.includes(decision.tag)) continue
      reporter.info(`floating tag ${decision.reason}`)
      if (decision.moves) continue
      const state = states.find((s) => s.tag === decision.tag)
      if (state) stays.push({ state, reason: decision.reason })
      states = states.filter((s) => s.tag !== decision.tag)
    }
  }
  progress.digest = root.digest
  progress.mediaType = root.mediaType
  progress.states = states
  reporter.info(`source ${displayReference(inputs.source)} is ${root.digest} (${root.mediaType})`)
  for (const state of states) {
    const now = state.current ? `points at ${state.current}` : 'does not exist'
    reporter.info(`destination tag ${state.tag}${state.floating ? ' (floating)' : ''} ${now}`)
  }
  return { root, states, src, dst, stays }
}

/**
 * Copies what the destination lacks. Write access is proven while the image is walked and checked;
 * no download or upload starts before it is, and its failure is the error reported.
 */
export async function copyAfterProof(
  src: RegistryClient,
  dst: RegistryClient,
  inputs: Inputs,
  root: Manifest,
  decision: Decision,
  reporter: Reporter,
  progress: Progress,
  trust?: TrustCopy,
  limiter?: Limiter,
  /** Checks that must pass before the proof of write access (the gates). */
  before: Promise<unknown> = Promise.resolve()
): Promise<CopyStats> {
  const destRepo = inputs.destination.repository
  progress.phase = inputs.dryRun ? 'check content (dry run)' : 'prove write access and copy content'
  const gate = before.then(() => proveWriteAccess(dst, inputs, reporter))
  gate.catch(() => undefined)
  const copying = reporter.group(inputs.dryRun ? 'Check content (dry run)' : 'Copy content', () =>
    copyContent({
      source: { client: src, repository: inputs.source.repository },
      destination: { client: dst, repository: destRepo },
      root,
      rootPresent: decision.alreadyThere.length > 0,
      concurrency: inputs.concurrency,
      limiter,
      logger: reporter,
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
export async function carryTrust(
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

export function outcomesFor(
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
