// An ECR destination's own rules, read before anything is written: the repository must exist (or be
// created: directly, or by a creation template on push), and no tag this run must move may be one
// the repository's tag mutability makes immutable (ECR would refuse it after the whole copy).
import { parseEcrHost } from '../aws/hosts.js'
import type { AwsSession } from '../aws/session.js'
import {
  isAccessDenied,
  createRepository,
  describeRepository,
  findCreateOnPushTemplate,
  type RepositorySettings
} from '../aws/ecr-api.js'
import type { Inputs } from './options.js'
import type { TagState } from './policy.js'
import { displayRegistry, PromotionError } from './errors.js'
import type { AttachmentPlan, Logger } from '../registry/index.js'

export type RepositoryTagMutability = 'MUTABLE' | 'IMMUTABLE'
export const REPOSITORY_TAG_MUTABILITIES: readonly RepositoryTagMutability[] = ['MUTABLE', 'IMMUTABLE']

export interface EcrDestinationOptions {
  createRepository: boolean
  /** The mutability a created repository gets. */
  tagMutability: RepositoryTagMutability
}

/** What is known of the destination repository before the copy. */
export interface DestinationRepository {
  /** undefined: not readable (no ecr:DescribeRepositories); the registry's refusal will tell. */
  settings?: RepositorySettings
  /** How the repository came to be: created now, or left to a creation template. */
  created?: 'created' | 'would-create' | { template: string }
}

/** Whether ECR's rules make `tag` immutable. */
export function isImmutable(tag: string, settings: RepositorySettings): boolean {
  const matches = settings.exclusionFilters.some((filter) => wildcard(filter).test(tag))
  switch (settings.tagMutability) {
    case 'IMMUTABLE':
      return true
    case 'IMMUTABLE_WITH_EXCLUSION':
      return !matches
    case 'MUTABLE_WITH_EXCLUSION':
      return matches
    default:
      return false
  }
}

function wildcard(filter: string): RegExp {
  return new RegExp(`^${filter.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`)
}

function describeRule(settings: RepositorySettings): string {
  const filters = settings.exclusionFilters.length ? settings.exclusionFilters.join(', ') : 'none'
  switch (settings.tagMutability) {
    case 'IMMUTABLE_WITH_EXCLUSION':
      return `IMMUTABLE_WITH_EXCLUSION, and no exclusion filter (${filters}) matches it`
    case 'MUTABLE_WITH_EXCLUSION':
      return `MUTABLE_WITH_EXCLUSION, and the exclusion filters (${filters}) match it`
    default:
      return settings.tagMutability
  }
}

/** What is known before any write, and whether the repository is still to be created. */
export type DestinationPlan = DestinationRepository & { create?: true }

/**
 * Reads the destination repository and decides what a missing one needs, reading only (it runs
 * beside the gates, and a refusal here comes before any image of a set writes). Undefined for a
 * destination that is not ECR.
 */
export async function readEcrDestination(
  inputs: Inputs,
  aws: AwsSession,
  log: Logger
): Promise<DestinationPlan | undefined> {
  const registry = parseEcrHost(inputs.destination.registry)
  if (!registry) return undefined
  const name = inputs.destination.repository
  const where = `${displayRegistry(inputs.destination.registry)}/${name}`
  const ecr = inputs.ecr
  // Explicit registry credentials and no role: there may be no AWS identity to ask at all.
  if (inputs.destinationCredentials && !inputs.aws.roleToAssume && !ecr.createRepository) return {}
  let settings: RepositorySettings | undefined
  try {
    settings = await describeRepository(aws, registry, name)
  } catch (error) {
    const denied = isAccessDenied(error)
    if (!ecr.createRepository) {
      // Reading the rules is a courtesy: without it the registry's own refusal tells.
      log.info(
        `the tag mutability of ${where} is not known (DescribeRepositories: ${(error as Error).message}); ` +
          'allow ecr:DescribeRepositories to have immutable tags reported before the copy'
      )
      return {}
    }
    throw new PromotionError(
      `read destination repository ${where}: ${(error as Error).message}` +
        (denied ? '. create-repository: true needs ecr:DescribeRepositories to tell whether it exists' : ''),
      { cause: error, kind: denied ? 'access' : 'other' }
    )
  }
  if (settings) return { settings }
  if (!ecr.createRepository) {
    throw new PromotionError(
      `destination repository ${where} does not exist (account ${registry.accountId}, ${registry.region}); ` +
        'nothing was written. Create it, or set create-repository: true to have it created (needs ecr:CreateRepository)',
      { kind: 'access' }
    )
  }
  const template = await findCreateOnPushTemplate(aws, registry, name).catch((error: unknown) => {
    // Without ecr:DescribeRepositoryCreationTemplates the repository is created directly.
    log.info(
      `repository creation templates could not be read (${(error as Error).message}); creating ${name}`
    )
    return undefined
  })
  if (template) {
    log.info(
      `destination repository ${where} does not exist; the creation template "${template.prefix}" creates it on push`
    )
    return { settings: template.settings, created: { template: template.prefix } }
  }
  return { settings: { tagMutability: ecr.tagMutability, exclusionFilters: [] }, create: true }
}

/** Creates the repository the plan says is missing (after every check passed). Not in a dry run. */
export async function ensureEcrDestination(
  plan: DestinationPlan | undefined,
  inputs: Inputs,
  aws: AwsSession,
  log: Logger
): Promise<DestinationRepository | undefined> {
  const registry = parseEcrHost(inputs.destination.registry)
  if (!plan?.create || !registry) return plan
  const where = `${displayRegistry(inputs.destination.registry)}/${inputs.destination.repository}`
  const mutability = inputs.ecr.tagMutability
  if (inputs.dryRun) {
    log.info(`dry run: would create repository ${where} (scan on push, tag mutability ${mutability})`)
    return { settings: plan.settings, created: 'would-create' }
  }
  try {
    await createRepository(aws, registry, inputs.destination.repository, mutability)
  } catch (error) {
    const denied = isAccessDenied(error)
    throw new PromotionError(
      `create destination repository ${where}: ${(error as Error).message}` +
        (denied ? '. create-repository: true needs ecr:CreateRepository' : ''),
      { cause: error, kind: denied ? 'access' : 'other' }
    )
  }
  log.info(`created repository ${where} (scan on push, tag mutability ${mutability})`)
  return { settings: plan.settings, created: 'created' }
}

/**
 * Refuses, before the copy, tags the repository will not let this run write: a floating tag that is
 * immutable (it could never move), and an overwrite of an immutable tag.
 */
export function checkTagMutability(
  repository: DestinationRepository | undefined,
  inputs: Inputs,
  digest: string,
  states: TagState[],
  write: string[]
): void {
  const settings = repository?.settings
  if (!settings) return
  const where = `${displayRegistry(inputs.destination.registry)}/${inputs.destination.repository}`
  const refused = states
    .filter((s) => write.includes(s.tag) && isImmutable(s.tag, settings))
    .filter((s) => s.floating || (s.current !== undefined && s.current !== digest))
  if (!refused.length) return
  const reasons = refused.map((s) =>
    s.floating
      ? `floating tag ${s.tag} is immutable there (${describeRule(settings)}), so it could never move`
      : `tag ${s.tag} points at ${s.current} and is immutable there (${describeRule(settings)}), so if-exists: overwrite cannot move it`
  )
  const names = refused.map((s) => s.tag)
  throw new PromotionError(
    `destination ${where}: ${reasons.join('; ')}; nothing was written. Exclude ${names.length > 1 ? 'them' : 'it'} ` +
      `from immutability (aws ecr put-image-tag-mutability --repository-name ${inputs.destination.repository} ` +
      `--image-tag-mutability IMMUTABLE_WITH_EXCLUSION --image-tag-mutability-exclusion-filters ` +
      `${names.map((n) => `filterType=WILDCARD,filter=${n}`).join(' ')}), or promote under a new tag`,
    { kind: 'conflict' }
  )
}

/**
 * Refuses, before the copy, a digest tag of the trust chain (`sha256-<hex>.sig`) that holds other
 * signatures at the destination and is immutable there: ours could only be merged into it.
 */
export function checkDigestTagMutability(
  repository: DestinationRepository | undefined,
  inputs: Inputs,
  plan: AttachmentPlan
): void {
  const settings = repository?.settings
  if (!settings) return
  const tags = plan.items
    .filter(
      (item) =>
        item.tagAction === 'merge' && item.attachment.tag && isImmutable(item.attachment.tag, settings)
    )
    .map((item) => item.attachment.tag!)
  if (!tags.length) return
  const where = `${displayRegistry(inputs.destination.registry)}/${inputs.destination.repository}`
  throw new PromotionError(
    `destination ${where}: ${tags.join(', ')} already ${tags.length > 1 ? 'hold' : 'holds'} other signatures and ` +
      `${tags.length > 1 ? 'are' : 'is'} immutable there (${describeRule(settings)}), so ours cannot be merged in; ` +
      'nothing was written. Exclude digest tags from immutability (filter sha256-*), or set referrers: false',
    { kind: 'conflict' }
  )
}
