// Errors raised by the registry client. `retryable` marks what another attempt can fix.

export interface RegistryErrorDetail {
  code: string
  message: string
}

export interface RegistryErrorOptions {
  status?: number
  method?: string
  url?: string
  details?: RegistryErrorDetail[]
  retryable?: boolean
  /** Milliseconds the server asked us to wait (Retry-After). */
  retryAfterMs?: number
  /** The request never got an HTTP answer (refused, reset, timed out, no such host). */
  network?: boolean
  cause?: unknown
}

export class RegistryError extends Error {
  override name = 'RegistryError'
  readonly status?: number
  readonly method?: string
  readonly url?: string
  readonly details: RegistryErrorDetail[]
  readonly retryable: boolean
  readonly retryAfterMs?: number
  readonly network: boolean

  constructor(message: string, options: RegistryErrorOptions = {}) {
    super(message, { cause: options.cause })
    this.status = options.status
    this.method = options.method
    this.url = options.url
    this.details = options.details ?? []
    this.retryable = options.retryable ?? (options.status !== undefined && isRetryableStatus(options.status))
    this.retryAfterMs = options.retryAfterMs
    this.network = options.network ?? false
  }
}

/** A byte stream that did not match its descriptor. Retried: a fresh fetch may be intact. */
export class DigestMismatchError extends RegistryError {
  override name = 'DigestMismatchError'
  constructor(message: string) {
    super(message, { retryable: true })
  }
}

/**
 * The source's download failed while its bytes fed an upload. The upload's request reports it, but
 * it is the source's failure: it keeps its own words instead of blaming the destination.
 */
export class SourceStreamError extends RegistryError {
  override name = 'SourceStreamError'
}

/** The error a request body (a source stream) raised, if that is what failed the request. */
export function bodyFailure(error: unknown): RegistryError | undefined {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    if (current instanceof SourceStreamError || current instanceof DigestMismatchError) return current
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500
}

// Not ENOTFOUND: a name that does not resolve will not resolve on the next try either.
const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT'
])

/** Whether another attempt could succeed: network failures, 408, 429, 5xx, corrupt streams. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof RegistryError) return error.retryable
  if (isAbort(error)) return false
  const own = (error as { retryable?: unknown }).retryable
  // Errors that know (a proxy tunnel's failure) say so themselves.
  if (typeof own === 'boolean') return own
  let current: unknown = error
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && RETRYABLE_NETWORK_CODES.has(code)) return true
    current = (current as { cause?: unknown }).cause
  }
  // "other side closed", "terminated" and similar undici socket errors carry no code on every path.
  return error instanceof Error && /socket|terminated|other side closed|premature close/i.test(error.message)
}

export function isAbort(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === 'AbortError' || (error as { code?: string }).code === 'ABORT_ERR')
  )
}

/**
 * The registry's own words from an error body: OCI `{"errors":[{"code","message","detail"}]}`, or the
 * shapes token services use (Docker Hub: `{"details": "..."}`; OAuth: `error_description`).
 */
export function parseErrorBody(text: string): RegistryErrorDetail[] {
  let body: Record<string, unknown>
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {
    return []
  }
  if (!body || typeof body !== 'object') return []
  if (Array.isArray(body.errors)) {
    return (body.errors as { code?: unknown; message?: unknown; detail?: unknown }[]).map((e) => ({
      code: String(e?.code ?? 'UNKNOWN'),
      message: String(e?.message ?? '') + detailText(e?.detail)
    }))
  }
  for (const key of ['details', 'error_description', 'message', 'error']) {
    const value = body[key]
    if (typeof value === 'string' && value.trim()) {
      const code = key === 'error_description' && typeof body.error === 'string' ? body.error : 'ERROR'
      return [{ code, message: value.trim().slice(0, 500) }]
    }
  }
  return []
}

function detailText(detail: unknown): string {
  if (detail === undefined || detail === null || detail === '') return ''
  const text = typeof detail === 'string' ? detail : JSON.stringify(detail)
  return text && text !== '{}' && text !== 'null' ? ` (${text.slice(0, 300)})` : ''
}

/** `CODE: message; CODE: message`, the registry's words for a message. */
export function formatDetails(details: RegistryErrorDetail[]): string {
  return details
    .map((d) => (d.message ? (d.code === 'ERROR' ? d.message : `${d.code}: ${d.message}`) : d.code))
    .join('; ')
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** An error's message with its code and cause, for one-line logs and wrapped errors. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const code = (error as { code?: string }).code
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : ''
  return `${error.message}${code && !error.message.includes(code) ? ` (${code})` : ''}${cause}`
}
