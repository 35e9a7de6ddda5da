// Reads and validates the action's inputs. Every error names the input and the rule it broke,
// and all of it happens before any network call.
import * as core from '@actions/core'
import {
  formatReference,
  InvalidReferenceError,
  isValidTag,
  parseReference,
  type Credentials,
  type Reference
} from './registry/index.js'

export type IfExists = 'fail' | 'skip' | 'overwrite'
export const IF_EXISTS_VALUES: readonly IfExists[] = ['fail', 'skip', 'overwrite']

/** Chosen by measurement (README, Performance): past this, loopback and WAN copies gain nothing. */
export const DEFAULT_CONCURRENCY = 8
export const MAX_CONCURRENCY = 64

export interface Inputs {
  source: Reference
  destination: Reference
  /** Guarded tags: checked against `ifExists`. */
  tags: string[]
  /** Always moved to the promoted digest, after the guarded tags. */
  floatingTags: string[]
  ifExists: IfExists
  sourceCredentials?: Credentials
  destinationCredentials?: Credentials
  dryRun: boolean
  concurrency: number
}

export class InputError extends Error {
  override name = 'InputError'
  constructor(
    readonly input: string,
    rule: string
  ) {
    super(`Input "${input}" ${rule}`)
  }
}

type Read = (name: string) => string

const readInput: Read = (name) => core.getInput(name)

export function getInputs(read: Read = readInput): Inputs {
  // Mask secrets first, so that nothing below (even an error message) can print them.
  const sourcePassword = read('source-password')
  const destinationPassword = read('destination-password')
  if (sourcePassword) core.setSecret(sourcePassword)
  if (destinationPassword) core.setSecret(destinationPassword)

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

  let tags = splitTags(read, 'tags')
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
  const floatingTags = splitTags(read, 'floating-tags') ?? []
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
    ifExists: ifExistsRaw as IfExists,
    sourceCredentials: credentials(read, 'source', sourcePassword),
    destinationCredentials: credentials(read, 'destination', destinationPassword),
    dryRun: parseBoolean(read, 'dry-run', false),
    concurrency: parseInteger(read, 'concurrency', DEFAULT_CONCURRENCY, 1, MAX_CONCURRENCY)
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

/** Splits on newlines and commas; undefined when the input is not set at all. */
export function splitTags(read: Read, name: string): string[] | undefined {
  const raw = read(name)
  if (raw.trim() === '') return undefined
  const tags: string[] = []
  for (const part of raw.split(/[\n,]/)) {
    const tag = part.replace(/\r$/, '').trim()
    if (tag === '') continue
    if (!isValidTag(tag)) {
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

function credentials(read: Read, side: string, password: string): Credentials | undefined {
  const username = read(`${side}-username`).trim()
  if (!username && !password) return undefined
  if (!username)
    throw new InputError(`${side}-username`, `is empty but ${side}-password is set; give both or neither`)
  if (!password)
    throw new InputError(`${side}-password`, `is empty but ${side}-username is set; give both or neither`)
  return { username, password }
}

function parseBoolean(read: Read, name: string, fallback: boolean): boolean {
  const raw = read(name).trim().toLowerCase()
  if (raw === '') return fallback
  if (raw === 'true') return true
  if (raw === 'false') return false
  throw new InputError(name, `is "${printable(raw)}"; allowed: true, false`)
}

function parseInteger(read: Read, name: string, fallback: number, min: number, max: number): number {
  const raw = read(name).trim()
  if (raw === '') return fallback
  if (!/^\d+$/.test(raw))
    throw new InputError(name, `is "${printable(raw)}"; it must be a whole number from ${min} to ${max}`)
  const value = Number(raw)
  if (value < min || value > max) throw new InputError(name, `is ${raw}; it must be from ${min} to ${max}`)
  return value
}

function printable(value: string): string {
  const escaped = value.replace(/[\r\n\t]/g, (c) => (c === '\r' ? '\\r' : c === '\n' ? '\\n' : '\\t'))
  return escaped.length > 80 ? `${escaped.slice(0, 77)}...` : escaped
}
