// The promotion's own errors: "what failed: why (what to do)", and names as users write them.
import { isDockerHub, type Reference } from '../registry/index.js'

export class PromotionError extends Error {
  override name = 'PromotionError'
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
