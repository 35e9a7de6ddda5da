// Image reference parsing, following the grammar of the distribution reference package:
// [registry[:port]/]path[:tag][@algorithm:hex]. Docker Hub short forms are normalised.

export const DOCKER_HUB_HOST = 'registry-1.docker.io'
const DOCKER_HUB_ALIASES = new Set([
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com'
])

export interface Reference {
  /** Host and optional port, e.g. `registry-1.docker.io`, `127.0.0.1:5000`. */
  registry: string
  /** Repository path, e.g. `acme/app`. */
  repository: string
  tag?: string
  digest?: string
  /** `http` only for loopback registries; everything else speaks HTTPS. */
  scheme: 'http' | 'https'
}

export class InvalidReferenceError extends Error {
  override name = 'InvalidReferenceError'
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/
const MAX_NAME_LENGTH = 255

export function isValidTag(tag: string): boolean {
  return TAG.test(tag)
}

export function isValidDigest(digest: string): boolean {
  return DIGEST.test(digest)
}

/** True for 127.0.0.0/8, ::1 and localhost, with or without a port. */
export function isLoopbackHost(registry: string): boolean {
  const host = stripPort(registry).toLowerCase()
  return host === 'localhost' || host === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(host)
}

function stripPort(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(0, registry.indexOf(']') + 1)
  const colon = registry.lastIndexOf(':')
  return colon === -1 ? registry : registry.slice(0, colon)
}

/** Docker Hub under any of its names, with or without the default HTTPS port (`docker.io:443`). */
export function isDockerHub(registry: string): boolean {
  return DOCKER_HUB_ALIASES.has(registry.toLowerCase().replace(/:443$/, ''))
}

/**
 * Parses an image reference. Throws InvalidReferenceError with a message naming the rule that failed;
 * callers prefix it with the input's name.
 */
export function parseReference(input: string): Reference {
  const raw = input.trim()
  if (raw === '') throw new InvalidReferenceError('is empty')
  if (/\s/.test(raw)) throw new InvalidReferenceError(`"${printable(raw)}" contains white space`)

  let rest = raw
  let explicitScheme: 'http' | 'https' | undefined
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest)
  if (scheme) {
    const name = scheme[1].toLowerCase()
    if (name !== 'http' && name !== 'https') {
      throw new InvalidReferenceError(`"${raw}" has scheme ${name}://; an image reference takes no scheme`)
    }
    explicitScheme = name
    rest = rest.slice(scheme[0].length)
  }

  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at !== -1) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!isValidDigest(digest)) {
      throw new InvalidReferenceError(
        `"${raw}" has digest "${digest}"; a digest is sha256: and 64 lower-case hex characters (or sha512: and 128)`
      )
    }
  }

  // The tag follows the last colon that comes after the last slash (a colon before it is a port).
  let tag: string | undefined
  const lastSlash = rest.lastIndexOf('/')
  const lastColon = rest.lastIndexOf(':')
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1)
    rest = rest.slice(0, lastColon)
    if (!isValidTag(tag)) {
      throw new InvalidReferenceError(
        `"${raw}" has tag "${printable(tag)}"; a tag is 1 to 128 characters of letters, digits, _ . - and does not start with . or -`
      )
    }
  }

  let registry: string
  let path: string
  const firstSlash = rest.indexOf('/')
  const first = firstSlash === -1 ? '' : rest.slice(0, firstSlash)
  // The distribution grammar: the first component names a host when it has a dot or a colon, is
  // `localhost`, or has upper case (repository paths are lower case, host names need not be).
  if (
    firstSlash !== -1 &&
    (first.includes('.') ||
      first.includes(':') ||
      first === 'localhost' ||
      first.startsWith('[') ||
      first !== first.toLowerCase())
  ) {
    registry = first
    path = rest.slice(firstSlash + 1)
  } else if (explicitScheme) {
    throw new InvalidReferenceError(`"${raw}" names a scheme but no registry host`)
  } else {
    registry = 'docker.io'
    path = rest
  }

  if (!HOST.test(registry))
    throw new InvalidReferenceError(`"${raw}" has an invalid registry host "${registry}"`)
  if (path === '') throw new InvalidReferenceError(`"${raw}" has no repository`)
  for (const component of path.split('/')) {
    if (!COMPONENT.test(component)) {
      throw new InvalidReferenceError(
        `"${raw}" has repository "${path}"; each path component is lower-case letters and digits, separated by . _ __ or -`
      )
    }
  }

  if (isDockerHub(registry)) {
    registry = DOCKER_HUB_HOST
    if (!path.includes('/')) path = `library/${path}`
  } else {
    registry = registry.toLowerCase()
  }
  if (registry.length + 1 + path.length > MAX_NAME_LENGTH) {
    throw new InvalidReferenceError(
      `"${raw}" is longer than ${MAX_NAME_LENGTH} characters (registry and repository)`
    )
  }

  const loopback = isLoopbackHost(registry)
  if (explicitScheme === 'http' && !loopback) {
    throw new InvalidReferenceError(
      `"${raw}" asks for plain HTTP; plain HTTP is allowed only for loopback registries`
    )
  }
  const resolvedScheme = explicitScheme ?? (loopback ? 'http' : 'https')

  return { registry, repository: path, tag, digest, scheme: resolvedScheme }
}

/** The canonical string form: `registry/repository[:tag][@digest]`. */
export function formatReference(ref: Pick<Reference, 'registry' | 'repository' | 'tag' | 'digest'>): string {
  let out = `${ref.registry}/${ref.repository}`
  if (ref.tag) out += `:${ref.tag}`
  if (ref.digest) out += `@${ref.digest}`
  return out
}

/** A value as it can be quoted in a message: control characters escaped, long values shortened. */
export function printable(value: string, maxLength = 80): string {
  const escaped = value.replace(/[\r\n\t]/g, (c) => (c === '\r' ? '\\r' : c === '\n' ? '\\n' : '\\t'))
  return escaped.length > maxLength ? `${escaped.slice(0, maxLength - 3)}...` : escaped
}
