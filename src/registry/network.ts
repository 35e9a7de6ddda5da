// How long we wait, and how a failure on the wire reads. Every wait is ours and in seconds, so a dead
// registry or proxy ends a run with a message that names it instead of hanging it for minutes.
import { describeError, isRetryable, RegistryError } from './errors.js'
import { redactUrl } from './logger.js'

export interface NetworkOptions {
  /** TCP (and TLS, and proxy CONNECT) set-up of one connection. */
  connectTimeoutMs: number
  /** From the last byte sent to the response's headers. */
  responseTimeoutMs: number
  /**
   * The same wait for a request that completes a blob upload: a registry may move or hash a large
   * blob in its storage before it answers (distribution on S3 copies it), which takes minutes.
   */
  commitTimeoutMs: number
  /** The longest pause inside a response body. */
  idleTimeoutMs: number
  /** Time a request may spend failing and waiting between attempts (progress earns a fresh budget). */
  retryBudgetMs: number
  /** Time spent trying to reach a registry that has not answered once yet. */
  reachBudgetMs: number
}

// A registry that restarts is back within seconds; one that has not answered its first request in
// 20 s is not coming, and the job should say so well before 30 s.
export const DEFAULT_NETWORK: NetworkOptions = {
  connectTimeoutMs: 10_000,
  responseTimeoutMs: 30_000,
  commitTimeoutMs: 600_000,
  idleTimeoutMs: 30_000,
  retryBudgetMs: 120_000,
  reachBudgetMs: 20_000
}

const ENVIRONMENT: Record<keyof NetworkOptions, string> = {
  connectTimeoutMs: 'ECR_PROMOTE_CONNECT_TIMEOUT_MS',
  responseTimeoutMs: 'ECR_PROMOTE_RESPONSE_TIMEOUT_MS',
  commitTimeoutMs: 'ECR_PROMOTE_COMMIT_TIMEOUT_MS',
  idleTimeoutMs: 'ECR_PROMOTE_IDLE_TIMEOUT_MS',
  retryBudgetMs: 'ECR_PROMOTE_RETRY_BUDGET_MS',
  reachBudgetMs: 'ECR_PROMOTE_REACH_BUDGET_MS'
}

/** Overrides from ECR_PROMOTE_*_MS variables (tests, very slow links); bad values are an error. */
export function readNetworkEnvironment(env: NodeJS.ProcessEnv = process.env): Partial<NetworkOptions> {
  const options: Partial<NetworkOptions> = {}
  for (const [key, name] of Object.entries(ENVIRONMENT) as [keyof NetworkOptions, string][]) {
    const raw = env[name]?.trim()
    if (!raw) continue
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 3_600_000) {
      throw new RangeError(`${name} is "${raw.slice(0, 20)}"; it must be milliseconds from 1 to 3600000`)
    }
    options[key] = Number(raw)
  }
  return options
}

export function resolveNetwork(options: Partial<NetworkOptions> = {}): NetworkOptions {
  return { ...DEFAULT_NETWORK, ...options }
}

/** A failure to set up a proxy tunnel, already in words; `retryable` says whether to try again. */
export class ProxyTunnelError extends Error {
  override name = 'ProxyTunnelError'
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly code = 'ECR_PROMOTE_PROXY'
  ) {
    super(message)
  }
}

export interface NetworkCause {
  /** What happened, in words: "connection refused", "did not answer within 2 s". */
  reason: string
  retryable: boolean
}

const TLS_CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID'
])

/**
 * Reads a network error (Node's, undici's or ours) into words and whether another attempt can help.
 * undefined when the error is not one of the wire (an HTTP answer, a bug).
 */
export function describeNetworkCause(error: unknown, network: NetworkOptions): NetworkCause | undefined {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    if (current instanceof ProxyTunnelError) return { reason: current.message, retryable: current.retryable }
    const code = (current as { code?: unknown }).code
    const message = current instanceof Error ? current.message : ''
    const cause = byCode(typeof code === 'string' ? code : '', message, network)
    if (cause) return cause
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

function byCode(code: string, message: string, network: NetworkOptions): NetworkCause | undefined {
  const seconds = (ms: number): string => `${ms >= 1000 ? Math.round(ms / 100) / 10 : ms / 1000} s`
  switch (code) {
    case 'ECONNREFUSED':
      return { reason: 'connection refused', retryable: true }
    case 'ENOTFOUND':
    case 'EAI_NONAME':
    case 'EAI_NODATA':
      return {
        reason: 'host name not found (check the registry host, and DNS on this runner)',
        retryable: false
      }
    case 'EAI_AGAIN':
      return { reason: 'host name lookup failed for now (EAI_AGAIN)', retryable: true }
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { reason: `no connection within ${seconds(network.connectTimeoutMs)}`, retryable: true }
    case 'UND_ERR_HEADERS_TIMEOUT':
      return { reason: `did not answer within ${seconds(network.responseTimeoutMs)}`, retryable: true }
    case 'UND_ERR_BODY_TIMEOUT':
      return { reason: `stopped sending for ${seconds(network.idleTimeoutMs)}`, retryable: true }
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return { reason: 'closed the connection', retryable: true }
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
    case 'ENETDOWN':
      return { reason: `network unreachable (${code})`, retryable: true }
  }
  if (TLS_CERT_CODES.has(code) || code.startsWith('ERR_TLS_CERT') || code.startsWith('ERR_SSL_')) {
    return {
      reason:
        `TLS certificate not accepted (${code}): ${message}. A private CA goes in NODE_EXTRA_CA_CERTS ` +
        `(a PEM file) for the step`,
      retryable: false
    }
  }
  if (/other side closed|socket hang up|premature close|terminated/i.test(message)) {
    return { reason: 'closed the connection', retryable: true }
  }
  return undefined
}

/** Anything that can say how it reaches an origin (ProxyAwareDispatcher can). */
export interface RouteDescriber {
  describeRoute?(origin: string | URL): string
}

/**
 * A failed request as the user should read it: `cannot reach HOST through proxy P (HTTPS_PROXY):
 * connection refused`. Errors that are not of the wire keep their own words.
 */
export function toNetworkError(
  what: string,
  method: string,
  url: URL,
  error: unknown,
  route: RouteDescriber,
  network: NetworkOptions
): RegistryError {
  const cause = describeNetworkCause(error, network)
  const via = route.describeRoute?.(url) ?? ''
  const message = cause
    ? `${what}: cannot reach ${url.host}${via}: ${cause.reason}`
    : `${what}: ${method} ${redactUrl(url)}${via} failed: ${describeError(error)}`
  return new RegistryError(message, {
    method,
    url: redactUrl(url),
    // A closed or destroyed pool will not come back; anything else on the wire may.
    retryable: cause ? cause.retryable : !isPoolClosed(error) && isRetryable(error),
    network: true,
    cause: error
  })
}

function isPoolClosed(error: unknown): boolean {
  const code = (error as { code?: string }).code
  return code === 'UND_ERR_DESTROYED' || code === 'UND_ERR_CLOSED'
}
