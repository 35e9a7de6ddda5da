// The promotion's own errors: "what failed: why (what to do)", and names as users write them.
import { isDockerHub, type Reference } from '../registry/index.js'

/** What kind of failure, for fronts that map it (the CLI's exit codes). */
/** gate: a gate (signature, scan) refused the image. */
export type FailureKind = 'conflict' | 'access' | 'gate' | 'other'

export class PromotionError extends Error {
  override name = 'PromotionError'
  readonly kind: FailureKind
  constructor(message: string, options: { cause?: unknown; kind?: FailureKind } = {}) {
    super(message, { cause: options.cause })
    this.kind = options.kind ?? 'other'
  }
}

const ACCESS_ERRORS = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'InvalidIdentityToken',
  'InvalidIdentityTokenException',
  'ExpiredTokenException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'CredentialsProviderError'
])

/** conflict (a guarded tag holds another digest), access (credentials or access refused), or other. */
export function failureKind(error: unknown): FailureKind {
  for (let current = error, depth = 0; current && depth < 8; depth++) {
    if (current instanceof PromotionError && current.kind !== 'other') return current.kind
    const status = (current as { status?: unknown }).status
    if (status === 401 || status === 403) return 'access'
    const name = (current as { name?: unknown }).name
    if (typeof name === 'string' && ACCESS_ERRORS.has(name)) return 'access'
    current = (current as { cause?: unknown }).cause
  }
  return 'other'
}

/** `what: why (after)`, keeping the cause; an error already in these words passes through. */
export function wrap(what: string, error: unknown, after?: string): Error {
  if (error instanceof PromotionError) return error
  const why = error instanceof Error ? error.message : String(error)
  return new PromotionError(`${what}: ${why}${after ? ` (${after})` : ''}`, { cause: error })
}

export function displayRegistry(registry: string): string {
  return isDockerHub(registry) ? 'docker.io' : registry
}

export function displayReference(ref: Reference): string {
  const name = `${displayRegistry(ref.registry)}/${ref.repository}`
  return ref.digest ? `${name}@${ref.digest}` : `${name}:${ref.tag}`
}
