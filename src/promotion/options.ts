// The one options model for every front (the action's inputs, the command's flags): read through a
// function, validated here with the same rules and messages. Every error names the option and the
// rule it broke, and all of it happens before any network call.
import type { AwsOptions } from '../aws/session.js'
import { getAwsOptions } from './aws-options.js'
import { parseBoolean, parseInteger } from './option-values.js'
import { deriveFloatingTags } from './floating.js'
import { getGates, type Gates } from '../gates/options.js'
import {
  REPOSITORY_TAG_MUTABILITIES,
  type EcrDestinationOptions,
  type RepositoryTagMutability
} from './ecr-destination.js'
import { parseEcrHost } from '../aws/hosts.js'
import { displayReference } from './errors.js'
import {
  formatReference,
  InvalidReferenceError,
  isDockerHub,
  isValidTag,
  parseReference,
  printable,
  type Credentials,
  type Reference
} from '../registry/index.js'

export { getPromotions, parseImageLines, type ImageLine } from './image-lines.js'
export { defaultSessionName } from './aws-options.js'

export type IfExists = 'fail' | 'skip' | 'overwrite'
export const IF_EXISTS_VALUES: readonly IfExists[] = ['fail', 'skip', 'overwrite']

/** Chosen by measurement (README, Performance): past this, loopback and WAN copies gain nothing. */
export interface DockerHubOidc {
  connectionId: string
  side: 'source' | 'destination'
  organisation: string
  /** ECR_PROMOTE_DOCKER_IDENTITY_URL: another identity service (tests). */
  endpoint?: string
  /** ECR_PROMOTE_DOCKER_OIDC_LIFETIME_S: the lifetime asked for (default 3600). */
  lifetimeSeconds?: number
}

export const DEFAULT_CONCURRENCY = 16
export const MAX_CONCURRENCY = 64

export interface Inputs {
  source: Reference
  destination: Reference
  /** Guarded tags: checked against `ifExists`. */
  tags: string[]
  /** Always moved to the promoted digest, after the guarded tags. */
  floatingTags: string[]
  /** `floating-tags: auto`: latest, MAJOR, MAJOR.MINOR, each moved only to the newest release. */
  floatingAuto: boolean
  /** What the inputs were taken to mean, for the log (`latest` in tags is floating). */
  notes: string[]
  ifExists: IfExists
  sourceCredentials?: Credentials
  destinationCredentials?: Credentials
  dryRun: boolean
  /** Copy what refers to the image (signatures, SBOMs, attestations) with it. */
  referrers: boolean
  /** Docker Hub through an OIDC connection instead of a password. */
  dockerHubOidc?: DockerHubOidc
  /** The sides (ghcr.io) that log in with the job's github-token. */
  githubTokenSides: ('source' | 'destination')[]
  concurrency: number
  aws: AwsOptions
  /** Checked before anything is written: a trusted signature, an ECR scan. */
  gates: Gates
  /** An ECR destination's repository: created when missing (create-repository). */
  ecr: EcrDestinationOptions
}

/** How a front calls an option in messages: `Input "if-exists"` (the action), `--if-exists` (the CLI). */
export type OptionLabel = (name: string) => string

export const INPUT_LABEL: OptionLabel = (name) => `Input "${name}"`

export class InputError extends Error {
  override name = 'InputError'
  constructor(
    readonly input: string,
    readonly rule: string
  ) {
    super(`${INPUT_LABEL(input)} ${rule}`)
  }

  /** The same error in another front's words. */
  labelled(label: OptionLabel): string {
    return `${label(this.input)} ${this.rule}`
  }
}

export type Read = (name: string) => string

/** Every input action.yml declares (a test keeps the two lists equal). */
export const INPUT_NAMES = [
  'source',
  'destination',
  'tags',
  'floating-tags',
  'if-exists',
  'source-username',
  'source-password',
  'destination-username',
  'destination-password',
  'images',
  'dry-run',
  'referrers',
  'concurrency',
  'role-to-assume',
  'audience',
  'role-session-name',
  'role-duration-seconds',
  'aws-region',
  'dockerhub-oidc-connection-id',
  'github-token',
  'require-signature-key',
  'fail-on-scan-severity',
  'scan-wait-seconds',
  'create-repository',
  'repository-tag-mutability'
] as const

export function getInputs(read: Read, env: NodeJS.ProcessEnv = process.env): Inputs {
  // The front has masked the passwords already (the action registers them with the runner first).
  const sourcePassword = read('source-password')
  const destinationPassword = read('destination-password')

  const source = parseImage(read, 'source')
  if (!source.tag && !source.digest) {
    throw new InputError(
      'source',
      `"${read('source').trim()}" has neither a tag nor a digest; write REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:…`
    )
  }
  const destination = parseImage(read, 'destination')
  if (destination.digest) {
    throw new InputError(
      'destination',
      `takes no digest (the digest is the source's); write REGISTRY/REPO[:TAG]`
    )
  }
  if (isDockerHub(destination.registry)) checkDockerHubRepository(destination.repository)

  const notes: string[] = []
  const floating = splitTags(read, 'floating-tags', true) ?? []
  const floatingAuto = floating.some((t) => t.toLowerCase() === 'auto')
  const floatingTags = floating.filter((t) => t.toLowerCase() !== 'auto')
  let tags = splitTags(read, 'tags', false, destination)
  for (const tag of floatingTags) {
    if (tag !== 'latest' && tags?.includes(tag))
      throw new InputError('floating-tags', `repeats "${tag}", which is already in "tags"`)
  }
  if (tags) {
    // docker/metadata-action puts latest (and, with semver patterns, MAJOR and MAJOR.MINOR) among the
    // tags; guarding them would fail the next release. Under auto they follow the newest-release rule.
    const derived = floatingAuto ? deriveFloatingTags(tags) : undefined
    const derivedNames = new Set(derived?.tags.map((t) => t.tag))
    const given = tags.filter((t) => t === 'latest' || derivedNames.has(t))
    if (given.length) {
      tags = tags.filter((t) => !given.includes(t))
      const named = given.map((t) => `"${t}"`).join(', ')
      if (derived) {
        notes.push(
          `${named} in tags ${given.length > 1 ? 'follow' : 'follows'} the newest-release rule of floating-tags: auto`
        )
      } else {
        if (!floatingTags.includes('latest')) floatingTags.push('latest')
        notes.push(
          '"latest" in tags is treated as floating: moved to the promoted digest, never guarded' +
            (floatingAuto ? ' (no tag is a semantic version, so floating-tags: auto derives none)' : '')
        )
      }
      const fallback = destination.tag ?? source.tag
      if (!tags.length && (!fallback || fallback === 'latest' || derivedNames.has(fallback))) {
        throw new InputError(
          'tags',
          `has only ${named}, which ${given.length > 1 ? 'are' : 'is'} floating; name a release tag to guard as well`
        )
      }
      if (!tags.length) tags = undefined
    }
  }
  if (tags === undefined) {
    const fallback = destination.tag ?? source.tag
    if (!fallback) {
      throw new InputError(
        'tags',
        'is empty and neither destination nor source has a tag; name the tags to write'
      )
    }
    tags = [fallback]
  } else if (destination.tag && !tags.includes(destination.tag)) {
    // A tag on the destination and a tags list together: write both, the destination's first.
    tags = [destination.tag, ...tags]
  }
  for (const tag of floatingTags) {
    if (tags.includes(tag))
      throw new InputError('floating-tags', `repeats "${tag}", which is already in "tags"`)
  }

  if (source.registry === destination.registry && source.repository === destination.repository) {
    const clash = [...tags, ...floatingTags].find((t) => t === source.tag)
    if (clash) {
      throw new InputError(
        'destination',
        `is the source itself (${formatReference(source)}); promote to another repository or tag`
      )
    }
  }

  const dockerHubOidc = getDockerHubOidc(read, source, destination, sourcePassword, destinationPassword, env)

  const ifExistsRaw = read('if-exists').trim().toLowerCase() || 'fail'
  if (!(IF_EXISTS_VALUES as readonly string[]).includes(ifExistsRaw)) {
    throw new InputError(
      'if-exists',
      `is "${printable(ifExistsRaw)}"; allowed: ${IF_EXISTS_VALUES.join(', ')}`
    )
  }

  return {
    source,
    destination,
    tags,
    floatingTags,
    floatingAuto,
    notes,
    ifExists: ifExistsRaw as IfExists,
    sourceCredentials:
      dockerHubOidc?.side === 'source'
        ? undefined
        : (credentials(read, 'source', sourcePassword) ?? githubToken(read, source, env)),
    destinationCredentials:
      dockerHubOidc?.side === 'destination'
        ? undefined
        : (credentials(read, 'destination', destinationPassword) ?? githubToken(read, destination, env)),
    dockerHubOidc,
    githubTokenSides: (['source', 'destination'] as const).filter(
      (side) =>
        dockerHubOidc?.side !== side &&
        !read(`${side}-password`).trim() &&
        githubToken(read, side === 'source' ? source : destination, env) !== undefined
    ),
    dryRun: parseBoolean(read, 'dry-run', false),
    referrers: parseBoolean(read, 'referrers', true),
    concurrency: parseInteger(read, 'concurrency', DEFAULT_CONCURRENCY, 1, MAX_CONCURRENCY),
    aws: getAwsOptions(read, env),
    gates: getGatesFor(read, source, env),
    ecr: getEcrDestination(read, destination, floatingAuto ? ['auto', ...floatingTags] : floatingTags)
  }
}

function getGatesFor(read: Read, source: Reference, env: NodeJS.ProcessEnv): Gates {
  const gates = getGates(read, env.GITHUB_WORKSPACE || process.cwd())
  if (gates.scan && !parseEcrHost(source.registry)) {
    throw new InputError(
      'fail-on-scan-severity',
      `needs an ECR source (scan findings come from ECR), and the source is ${displayReference(source)}`
    )
  }
  return gates
}

function getEcrDestination(read: Read, destination: Reference, floating: string[]): EcrDestinationOptions {
  const createRepository = parseBoolean(read, 'create-repository', false)
  const raw = read('repository-tag-mutability').trim().toUpperCase()
  if (raw && !(REPOSITORY_TAG_MUTABILITIES as readonly string[]).includes(raw)) {
    throw new InputError(
      'repository-tag-mutability',
      `is "${printable(raw)}"; allowed: ${REPOSITORY_TAG_MUTABILITIES.join(', ')}`
    )
  }
  if (raw && !createRepository) {
    throw new InputError(
      'repository-tag-mutability',
      'applies to a repository create-repository makes; set create-repository: true'
    )
  }
  if (createRepository && !parseEcrHost(destination.registry)) {
    throw new InputError(
      'create-repository',
      `is for an ECR destination, and the destination is ${displayRegistryName(destination.registry)}/${destination.repository}`
    )
  }
  if (raw === 'IMMUTABLE' && createRepository && floating.length) {
    throw new InputError(
      'repository-tag-mutability',
      `is IMMUTABLE, and floating-tags (${floating.join(', ')}) could never move in such a repository; use MUTABLE, or drop floating-tags`
    )
  }
  return { createRepository, tagMutability: (raw || 'MUTABLE') as RepositoryTagMutability }
}

/** Docker Hub repositories are NAMESPACE/NAME, and library/ belongs to Docker's official images. */
function checkDockerHubRepository(repository: string): void {
  const parts = repository.split('/')
  if (parts[0] === 'library') {
    throw new InputError(
      'destination',
      `is Docker Hub's library/ namespace (official images); name your own namespace, e.g. docker.io/acme/${parts.slice(1).join('/')}`
    )
  }
  if (parts.length !== 2) {
    throw new InputError(
      'destination',
      `is Docker Hub repository "${repository}"; Docker Hub repositories are NAMESPACE/NAME`
    )
  }
}

function parseImage(read: Read, name: string): Reference {
  const value = read(name)
  if (!value.trim()) throw new InputError(name, 'is required')
  try {
    return parseReference(value)
  } catch (error) {
    if (error instanceof InvalidReferenceError) throw new InputError(name, error.message)
    throw error
  }
}

/**
 * Splits on newlines and commas; undefined when the input is not set at all. `auto` is let through
 * where it means something (floating-tags). With a destination, an entry may be a full reference
 * (docker/metadata-action's output): one for the destination's repository gives its tag.
 */
export function splitTags(
  read: Read,
  name: string,
  allowAuto = false,
  destination?: Reference
): string[] | undefined {
  const raw = read(name)
  if (raw.trim() === '') return undefined
  const tags: string[] = []
  for (const part of raw.split(/[\n,]/)) {
    let tag = part.replace(/\r$/, '').trim()
    if (tag === '') continue
    if (destination && /[/:@]/.test(tag)) tag = tagOfReference(name, tag, destination) ?? tag
    if (!isValidTag(tag) && !(allowAuto && tag.toLowerCase() === 'auto')) {
      throw new InputError(
        name,
        `has "${printable(tag)}"; a tag is 1 to 128 characters of letters, digits, _ . - and does not start with . or -`
      )
    }
    if (!tags.includes(tag)) tags.push(tag)
  }
  if (tags.length === 0) throw new InputError(name, 'has no tag after splitting on commas and newlines')
  return tags
}

/** The tag of `acme/app:1.4.2` when the destination is that repository; anything else is an error. */
function tagOfReference(name: string, value: string, destination: Reference): string | undefined {
  let ref: Reference
  try {
    ref = parseReference(value)
  } catch (error) {
    // Not a reference either: the caller reports it as the bad tag it is.
    if (error instanceof InvalidReferenceError) return undefined
    throw error
  }
  const where = `${displayRegistryName(destination.registry)}/${destination.repository}`
  if (ref.registry !== destination.registry || ref.repository !== destination.repository) {
    throw new InputError(
      name,
      `has "${printable(value)}", a reference to ${displayRegistryName(ref.registry)}/${ref.repository}, ` +
        `not to the destination ${where}; give only the destination's references, or bare tags`
    )
  }
  if (ref.digest || !ref.tag) {
    throw new InputError(name, `has "${printable(value)}", which names no tag (a digest is the source's)`)
  }
  return ref.tag
}

export function displayRegistryName(registry: string): string {
  return isDockerHub(registry) ? 'docker.io' : registry
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * dockerhub-oidc-connection-id: the Docker Hub side without a password (the destination first) logs
 * in as the organisation named by its username, with an access token exchanged for the job's OIDC token.
 */
function getDockerHubOidc(
  read: Read,
  source: Reference,
  destination: Reference,
  sourcePassword: string,
  destinationPassword: string,
  env: NodeJS.ProcessEnv
): DockerHubOidc | undefined {
  const connectionId = read('dockerhub-oidc-connection-id').trim()
  if (!connectionId) return undefined
  if (!UUID.test(connectionId)) {
    throw new InputError(
      'dockerhub-oidc-connection-id',
      `is "${printable(connectionId)}"; it is the OIDC connection's id, a UUID such as 0f8fad5b-d9cb-469f-a165-70867728950e`
    )
  }
  const side =
    isDockerHub(destination.registry) && !destinationPassword
      ? 'destination'
      : isDockerHub(source.registry) && !sourcePassword
        ? 'source'
        : undefined
  if (!side) {
    throw new InputError(
      'dockerhub-oidc-connection-id',
      'is set, but no Docker Hub side is without a password to take its place; remove it, or the password'
    )
  }
  const organisation = read(`${side}-username`).trim()
  if (!organisation) {
    throw new InputError(
      `${side}-username`,
      'is required with dockerhub-oidc-connection-id: the Docker Hub organisation that owns the OIDC connection (an organisation, not a person)'
    )
  }
  const lifetime = env.ECR_PROMOTE_DOCKER_OIDC_LIFETIME_S?.trim()
  if (lifetime && !(/^\d+$/.test(lifetime) && Number(lifetime) >= 300 && Number(lifetime) <= 3600)) {
    throw new InputError(
      'ECR_PROMOTE_DOCKER_OIDC_LIFETIME_S',
      `is "${printable(lifetime)}"; seconds, 300 to 3600`
    )
  }
  const endpoint = env.ECR_PROMOTE_DOCKER_IDENTITY_URL?.trim() || undefined
  // The OIDC token goes there: HTTPS only (plain HTTP to this machine, for tests).
  if (
    endpoint &&
    !/^https:\/\//.test(endpoint) &&
    !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(endpoint)
  ) {
    throw new InputError(
      'ECR_PROMOTE_DOCKER_IDENTITY_URL',
      `is "${printable(endpoint)}"; it must be an https:// URL`
    )
  }
  return {
    connectionId,
    side,
    organisation,
    endpoint,
    lifetimeSeconds: lifetime ? Number(lifetime) : undefined
  }
}

/**
 * A ghcr.io side with no credentials logs in with the job's token (the github-token input, by default
 * github.token) as the actor.
 */
function githubToken(read: Read, ref: Reference, env: NodeJS.ProcessEnv): Credentials | undefined {
  if (ref.registry.toLowerCase() !== 'ghcr.io') return undefined
  const token = read('github-token').trim()
  if (!token) return undefined
  return { username: env.GITHUB_ACTOR?.trim() || 'x-access-token', password: token }
}

function credentials(read: Read, side: string, password: string): Credentials | undefined {
  const username = read(`${side}-username`).trim()
  if (!username && !password) return undefined
  if (!username)
    throw new InputError(`${side}-username`, `is empty but ${side}-password is set; give both or neither`)
  if (!password)
    throw new InputError(`${side}-password`, `is empty but ${side}-username is set; give both or neither`)
  return { username, password }
}
