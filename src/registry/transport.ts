// One registry's HTTP transport: a keep-alive connection pool, authentication, redirects that never
// carry credentials to another origin, and retries for what can succeed.
import { Agent, request, type Dispatcher } from 'undici'
import { Authenticator, header, type Credentials } from './auth.js'
import { parseChallenges, pickChallenge } from './challenge.js'
import {
  bodyFailure,
  describeError,
  formatDetails,
  isAbort,
  parseErrorBody,
  parseRetryAfter,
  RegistryError
} from './errors.js'
import { redactUrl, silentLogger, type Logger } from './logger.js'
import { resolveNetwork, toNetworkError, type NetworkOptions, type RouteDescriber } from './network.js'
import { DEFAULT_RETRY, withRetry, type RetryOptions } from './retry.js'

export const USER_AGENT = 'ecr-promote/0.1'
const MAX_REDIRECTS = 5
const MAX_ERROR_BODY = 64 * 1024

export interface ClientOptions {
  /** Host and optional port. */
  registry: string
  scheme: 'http' | 'https'
  credentials?: Credentials
  dispatcher?: Dispatcher
  logger?: Logger
  retry?: RetryOptions
  /** Timeouts and budgets; defaults to the dispatcher's (ProxyAwareDispatcher) or DEFAULT_NETWORK. */
  network?: Partial<NetworkOptions>
  signal?: AbortSignal
  userAgent?: string
  onSecret?: (secret: string) => void
  /** Fresh credentials when the token server refuses the current ones (short-lived ones expire). */
  refreshCredentials?: () => Promise<Credentials>
}

/** A request body: replayable bytes, or a one-shot stream (never retried by the transport). */
export type Body = Buffer | string | AsyncIterable<Uint8Array>

export interface RequestOptions {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE'
  /** A path under the registry (`/v2/...`) or an absolute URL on the registry's origin. */
  url: string
  scopes: string[]
  headers?: Record<string, string>
  body?: Body
  /** Statuses that count as success; anything else raises a RegistryError. */
  expect: number[]
  /** Statuses returned to the caller instead of raised (e.g. 404 for an existence check). */
  allow?: number[]
  /** What the request is for, used in error messages ("HEAD blob sha256:..."). */
  what: string
  /** Overrides the response timeout (a request that commits a blob upload waits longer). */
  responseTimeoutMs?: number
  /** false: one attempt only, the caller retries (or does not) at its own level. */
  retry?: false
  /** false: a redirect is answered to the caller (put its status in `allow`), not followed. */
  followRedirects?: false
}

export interface Response {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Dispatcher.ResponseData['body']
  url: URL
}

export interface TransportStats {
  requests: number
}

/** The pull rate limit a registry announces (Docker Hub: `ratelimit-remaining: 76;w=21600`). */
export interface RateLimit {
  limit?: number
  remaining?: number
  windowSeconds?: number
}

export class RegistryClient {
  readonly registry: string
  readonly baseUrl: string
  readonly auth: Authenticator
  readonly logger: Logger
  readonly stats: TransportStats = { requests: 0 }
  /** The latest rate limit the registry announced, if it announces one. */
  rateLimit?: RateLimit
  private readonly dispatcher: Dispatcher
  private readonly retry: RetryOptions
  readonly network: NetworkOptions
  private readonly userAgent: string
  private readonly ownsDispatcher: boolean

  constructor(options: ClientOptions) {
    this.registry = options.registry
    this.baseUrl = `${options.scheme}://${options.registry}`
    this.ownsDispatcher = !options.dispatcher
    this.dispatcher =
      options.dispatcher ?? new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000 })
    this.logger = options.logger ?? silentLogger
    this.network = resolveNetwork(
      options.network ?? (this.dispatcher as { network?: NetworkOptions }).network
    )
    this.retry = {
      ...DEFAULT_RETRY,
      maxElapsedMs: this.network.retryBudgetMs,
      signal: options.signal,
      ...options.retry
    }
    this.userAgent = options.userAgent ?? USER_AGENT
    this.auth = new Authenticator({
      baseUrl: this.baseUrl,
      credentials: options.credentials,
      refreshCredentials: options.refreshCredentials,
      dispatcher: this.dispatcher,
      userAgent: this.userAgent,
      logger: this.logger,
      retry: this.retry,
      network: this.network,
      onSecret: options.onSecret
    })
  }

  get signal(): AbortSignal | undefined {
    return this.retry.signal
  }

  /** A failed request or body read on this registry, in words (host, proxy, reason). */
  describeFailure(what: string, method: string, path: string, error: unknown): RegistryError {
    return toNetworkError(
      what,
      method,
      new URL(path, this.baseUrl),
      error,
      this.dispatcher as RouteDescriber,
      this.network
    )
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close()
  }

  private noteRateLimit(headers: Record<string, string | string[] | undefined>): void {
    const remaining = parseLimitHeader(header(headers, 'ratelimit-remaining'))
    if (remaining.value === undefined) return
    const limit = parseLimitHeader(header(headers, 'ratelimit-limit'))
    this.rateLimit = {
      remaining: remaining.value,
      limit: limit.value,
      windowSeconds: remaining.window ?? limit.window
    }
  }

  /**
   * Sends a request, retrying retryable failures when the body can be replayed. The caller owns the
   * returned body and must consume or dump it.
   */
  async request(options: RequestOptions): Promise<Response> {
    const replayable =
      options.body === undefined || typeof options.body === 'string' || Buffer.isBuffer(options.body)
    if (!replayable || options.retry === false) return this.send(options)
    return withRetry(() => this.send(options), {
      ...this.retry,
      onRetry: (error, attempt, delay) =>
        this.logger.debug(`${options.what}: retry ${attempt} in ${delay} ms after ${describeError(error)}`)
    })
  }

  /** One attempt, including one re-authentication after a 401 and any redirects. */
  private async send(options: RequestOptions, reauthenticated = false): Promise<Response> {
    let url = new URL(options.url, this.baseUrl)
    const origin = new URL(this.baseUrl).origin
    const authorization = await this.auth.authorization(options.scopes)
    for (let redirects = 0; ; redirects++) {
      const headers: Record<string, string> = { 'user-agent': this.userAgent, ...options.headers }
      // Credentials belong to the registry's origin only: never to a redirect target elsewhere (S3).
      if (authorization && url.origin === origin) headers.authorization = authorization
      let response: Dispatcher.ResponseData
      this.stats.requests++
      try {
        response = await request(url, {
          method: options.method,
          headers,
          body: options.body as Dispatcher.DispatchOptions['body'],
          dispatcher: this.dispatcher,
          signal: this.retry.signal,
          // undici closes the connection after every HEAD unless told not to (a guard against servers
          // that send a body anyway). Registries do not, and existence checks are most of our requests:
          // without this each one would pay a new TCP and TLS handshake.
          reset: options.method === 'HEAD' ? false : undefined,
          headersTimeout: options.responseTimeoutMs ?? this.network.responseTimeoutMs,
          bodyTimeout: this.network.idleTimeoutMs
        })
      } catch (error) {
        if (isAbort(error) || this.retry.signal?.aborted) throw error
        // A body fed from the source failed: the source's error, not this registry's.
        const fromBody = bodyFailure(error)
        if (fromBody) throw fromBody
        throw toNetworkError(
          options.what,
          options.method,
          url,
          error,
          this.dispatcher as RouteDescriber,
          options.responseTimeoutMs
            ? { ...this.network, responseTimeoutMs: options.responseTimeoutMs }
            : this.network
        )
      }
      const status = response.statusCode
      if (url.origin === origin) this.noteRateLimit(response.headers)
      if (
        isRedirect(status) &&
        options.followRedirects !== false &&
        (options.method === 'GET' || options.method === 'HEAD')
      ) {
        const location = header(response.headers, 'location')
        await response.body.dump()
        if (!location)
          throw new RegistryError(`${options.what}: redirect ${status} without Location`, { status })
        if (redirects >= MAX_REDIRECTS) {
          throw new RegistryError(`${options.what}: more than ${MAX_REDIRECTS} redirects`, {
            status,
            retryable: false
          })
        }
        url = new URL(location, url)
        if (url.protocol !== 'https:' && url.protocol !== new URL(this.baseUrl).protocol) {
          throw new RegistryError(`${options.what}: refusing redirect to ${redactUrl(url)}`, {
            retryable: false
          })
        }
        continue
      }
      if (options.expect.includes(status) || options.allow?.includes(status)) {
        // Whoever reads the body sees its errors through the read. This listener is for a body that is
        // already read, or dropped, when an abort destroys it: that is expected, not a crash.
        response.body.on('error', () => undefined)
        return { status, headers: response.headers, body: response.body, url }
      }
      if (status === 401 && url.origin === origin && !reauthenticated) {
        await response.body.dump()
        // The token expired or the registry wants another scope: refresh once, then give up.
        // Concurrent requests refused with the same token share one refresh.
        const challengeHeader = header(response.headers, 'www-authenticate')
        this.auth.invalidate(options.scopes, authorization)
        this.auth.updateChallenge(challengeHeader)
        const wanted = pickChallenge(parseChallenges(challengeHeader))?.params.scope
        if (wanted) this.auth.addScopes(options.scopes, wanted.split(' '))
        const replayable =
          options.body === undefined || typeof options.body === 'string' || Buffer.isBuffer(options.body)
        if (replayable) return this.send(options, true)
        throw new RegistryError(
          `${options.what}: 401 Unauthorized during an upload; retrying with a fresh token`,
          {
            status,
            retryable: true
          }
        )
      }
      const error = await toError(options, url, response)
      if (status === 401 && !this.auth.hasCredentials) {
        throw new RegistryError(
          `${error.message}: the registry requires credentials for this and none were given`,
          {
            status,
            method: options.method,
            url: error.url,
            details: error.details,
            cause: error,
            retryable: false
          }
        )
      }
      throw error
    }
  }
}

/** Drops a body we will not read; undici reports the abort as an error, which is expected here. */
export function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined)
  body.destroy()
}

function parseLimitHeader(value: string | undefined): { value?: number; window?: number } {
  const match = value ? /^\s*(\d+)(?:\s*;\s*w=(\d+))?/.exec(value) : null
  return match ? { value: Number(match[1]), window: match[2] ? Number(match[2]) : undefined } : {}
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308
}

async function toError(
  options: RequestOptions,
  url: URL,
  response: Dispatcher.ResponseData
): Promise<RegistryError> {
  let text = ''
  if (options.method !== 'HEAD' && response.statusCode !== 204) {
    try {
      for await (const chunk of response.body) {
        text += Buffer.from(chunk as Uint8Array).toString('utf8')
        if (text.length > MAX_ERROR_BODY) break
      }
    } catch {
      // The body is only for the message; its loss is not the error.
    }
  }
  discard(response.body)
  const details = parseErrorBody(text)
  const status = response.statusCode
  const plain = plainText(text, header(response.headers, 'content-type'))
  const reason = details.length
    ? formatDetails(details)
    : `${STATUS_TEXT[status] ?? `HTTP ${status}`}${plain ? `: ${plain}` : ''}`
  return new RegistryError(`${options.what}: ${status} ${reason}`, {
    status,
    method: options.method,
    url: redactUrl(url),
    details,
    retryAfterMs: parseRetryAfter(header(response.headers, 'retry-after'))
  })
}

/** A short plain-text error body is the registry's (or a proxy's) own words: keep them. */
function plainText(text: string, contentType: string | undefined): string | undefined {
  const trimmed = text.trim()
  if (!trimmed || trimmed.length > 300 || /html/i.test(contentType ?? '') || trimmed.startsWith('<'))
    return undefined
  if (trimmed.startsWith('{')) return undefined
  return trimmed.replace(/\s+/g, ' ')
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  416: 'Range Not Satisfiable',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout'
}

/** `repository:NAME:ACTIONS` as token servers expect. */
export function repositoryScope(repository: string, actions: 'pull' | 'pull,push'): string {
  return `repository:${repository}:${actions}`
}
