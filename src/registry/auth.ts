// Authentication against one registry: ping /v2/ once, then answer its challenge with Basic
// credentials or Bearer tokens fetched per scope, cached until shortly before they expire.
import { request, type Dispatcher } from 'undici'
import { parseChallenges, pickChallenge, type Challenge } from './challenge.js'
import { formatDetails, parseErrorBody, parseRetryAfter, RegistryError } from './errors.js'
import { redactUrl, type Logger } from './logger.js'
import { DEFAULT_NETWORK, toNetworkError, type NetworkOptions, type RouteDescriber } from './network.js'
import { isLoopbackHost } from './reference.js'
import { withRetry, type RetryOptions } from './retry.js'

export interface Credentials {
  username: string
  password: string
}

export interface Token {
  value: string
  expiresAt: number
  /** The scopes the token server says it granted, when the token is a JWT that lists them. */
  granted?: GrantedAccess[]
}

export interface GrantedAccess {
  type: string
  name: string
  actions: string[]
}

export interface AuthenticatorOptions {
  baseUrl: string
  credentials?: Credentials
  dispatcher: Dispatcher
  userAgent: string
  logger: Logger
  retry: RetryOptions
  network?: NetworkOptions
  /** Invoked with every secret the authenticator learns, so the host can mask it. */
  onSecret?: (secret: string) => void
  /**
   * Fresh credentials when the token server refuses the current ones: short-lived ones (a Docker Hub
   * access token exchanged for an OIDC token) expire during a long promotion.
   */
  refreshCredentials?: () => Promise<Credentials>
  now?: () => number
}

const DEFAULT_TOKEN_LIFETIME_S = 60
/** `/v2/` answers at once on any live registry: a long wait there means a dead one. */
const PING_TIMEOUT_MS = 10_000

interface CachedToken {
  pending: Promise<Token>
  /** Set once the request succeeds, so a refusal can tell whether it was this token that failed. */
  value?: string
}

export class Authenticator {
  private challenge: Promise<Challenge | undefined> | undefined
  private readonly tokens = new Map<string, CachedToken>()
  /** Scopes a registry asked for in a 401 challenge, added to later requests with the same scopes. */
  private readonly extraScopes = new Map<string, string[]>()
  /** Counts token requests, so tests and benchmarks can see that none is repeated. */
  tokenRequests = 0
  /** Whether the token realm has answered once (until then, failing to reach it fails fast). */
  private realmReached = false

  private credentials: Credentials | undefined
  /** One refresh at a time, shared by the requests that were refused together. */
  private refreshing: Promise<Credentials> | undefined
  /** Fresh credentials were refused as well: the refusal is not an expiry. */
  private refreshUseless = false

  constructor(private readonly options: AuthenticatorOptions) {
    this.credentials = options.credentials
  }

  private now(): number {
    return (this.options.now ?? Date.now)()
  }

  private get network(): NetworkOptions {
    return this.options.network ?? DEFAULT_NETWORK
  }

  get hasCredentials(): boolean {
    return !!this.credentials
  }

  /** The registry's challenge, learned once from GET /v2/. */
  ping(): Promise<Challenge | undefined> {
    this.challenge ??= this.fetchChallenge().catch((error: unknown) => {
      this.challenge = undefined
      throw error
    })
    return this.challenge
  }

  private async fetchChallenge(): Promise<Challenge | undefined> {
    const url = new URL('/v2/', this.options.baseUrl)
    // A registry not reached yet gets the shorter reach budget: a dead one fails the run in seconds.
    const retry = { ...this.options.retry, maxElapsedMs: this.network.reachBudgetMs }
    return withRetry(async () => {
      let response: Dispatcher.ResponseData
      try {
        response = await request(url, {
          method: 'GET',
          headers: { 'user-agent': this.options.userAgent },
          dispatcher: this.options.dispatcher,
          signal: this.options.retry.signal,
          headersTimeout: Math.min(this.network.responseTimeoutMs, PING_TIMEOUT_MS)
        })
      } catch (error) {
        if (this.options.retry.signal?.aborted) throw error
        throw toNetworkError(
          `registry ${url.host}`,
          'GET',
          url,
          error,
          this.options.dispatcher as RouteDescriber,
          { ...this.network, responseTimeoutMs: Math.min(this.network.responseTimeoutMs, PING_TIMEOUT_MS) }
        )
      }
      if (response.statusCode === 200 || response.statusCode === 401) await response.body.dump()
      if (response.statusCode === 200) return undefined
      if (response.statusCode === 401) {
        const challenge = pickChallenge(parseChallenges(header(response.headers, 'www-authenticate')))
        if (!challenge) {
          throw new RegistryError(`registry ${url.host} answered 401 without a Basic or Bearer challenge`, {
            status: 401,
            retryable: false
          })
        }
        return challenge
      }
      const text = await response.body.text().catch(() => '')
      const details = parseErrorBody(text)
      const said = formatDetails(details) || plainWords(text)
      throw new RegistryError(
        `registry ${url.host} answered ${response.statusCode} to GET /v2/${said ? `: ${said}` : ''}`,
        {
          status: response.statusCode,
          details,
          method: 'GET',
          url: redactUrl(url),
          retryAfterMs: parseRetryAfter(header(response.headers, 'retry-after'))
        }
      )
    }, retry)
  }

  /** Forget a challenge after a 401 that named a different one (e.g. a realm that moved). */
  updateChallenge(headerValue: string | undefined): void {
    const challenge = pickChallenge(parseChallenges(headerValue))
    if (challenge) this.challenge = Promise.resolve(challenge)
  }

  /** The Authorization header value for a request needing `scopes`, or undefined for anonymous access. */
  async authorization(scopes: string[]): Promise<string | undefined> {
    const challenge = await this.ping()
    if (!challenge) return undefined
    if (challenge.scheme === 'basic') {
      // Some registries (Nexus) challenge /v2/ yet serve anonymous pulls: try without, and let a
      // refusal say that credentials are needed.
      const credentials = this.credentials
      return credentials ? basicHeader(credentials) : undefined
    }
    const token = await this.token(challenge, this.withExtraScopes(scopes))
    return `Bearer ${token.value}`
  }

  /**
   * Whether the token for `scopes` grants `action` on a resource, as its own `access` claim says;
   * undefined when it cannot tell (Basic auth, anonymous access, opaque tokens, a failed request).
   */
  async grants(scopes: string[], type: string, name: string, action: string): Promise<boolean | undefined> {
    const challenge = await this.ping().catch(() => undefined)
    if (!challenge || challenge.scheme !== 'bearer') return undefined
    const token = await this.token(challenge, this.withExtraScopes(scopes)).catch(() => undefined)
    if (!token?.granted) return undefined
    const entry = token.granted.find((a) => a.type === type && a.name === name)
    return !!entry && (entry.actions.includes(action) || entry.actions.includes('*'))
  }

  /**
   * Drops a cached token the registry refused, so the next call fetches a fresh one. Only the token
   * that was refused: when a concurrent request has already refreshed it, the new one stays.
   */
  invalidate(scopes: string[], refused?: string): void {
    const key = scopeKey(this.withExtraScopes(scopes))
    const cached = this.tokens.get(key)
    if (!cached) return
    if (refused === undefined || (cached.value !== undefined && `Bearer ${cached.value}` === refused)) {
      this.tokens.delete(key)
    }
  }

  /** Remembers scopes a registry's 401 challenge asked for on top of `scopes`. */
  addScopes(scopes: string[], wanted: string[]): void {
    const current = this.withExtraScopes(scopes)
    const added = wanted.filter((s) => s && !current.includes(s))
    if (added.length)
      this.extraScopes.set(scopeKey(scopes), [...(this.extraScopes.get(scopeKey(scopes)) ?? []), ...added])
  }

  private withExtraScopes(scopes: string[]): string[] {
    const extra = this.extraScopes.get(scopeKey(scopes))
    return extra ? [...scopes, ...extra] : scopes
  }

  /** The token for these scopes, from cache while it has life left; concurrent callers share one request. */
  async token(challenge: Challenge, scopes: string[]): Promise<Token> {
    const key = scopeKey(scopes)
    const cached = this.tokens.get(key)
    if (cached) {
      const token = await cached.pending.catch(() => undefined)
      if (token && !this.expiresSoon(token)) return token
      // Another caller may already have started the refresh.
      const now = this.tokens.get(key)
      if (now && now !== cached) return this.token(challenge, scopes)
    }
    const entry: CachedToken = { pending: this.fetchToken(challenge, scopes) }
    this.tokens.set(key, entry)
    try {
      const token = await entry.pending
      entry.value = token.value
      return token
    } catch (error) {
      if (this.tokens.get(key) === entry) this.tokens.delete(key)
      throw error
    }
  }

  private expiresSoon(token: Token): boolean {
    return this.now() >= token.expiresAt
  }

  private async fetchToken(challenge: Challenge, scopes: string[]): Promise<Token> {
    const used = this.credentials
    try {
      return await this.requestToken(challenge, scopes)
    } catch (error) {
      const refresh = this.options.refreshCredentials
      const refused = error instanceof RegistryError && (error.status === 401 || error.status === 403)
      // Once fresh credentials were refused too, refreshing again cannot help: the refusal stands.
      if (!refresh || !refused || this.refreshUseless) throw error
      try {
        if (this.credentials === used) {
          const pending = (this.refreshing ??= refresh())
          try {
            const fresh = await pending
            if (this.credentials === used) this.credentials = fresh
          } finally {
            if (this.refreshing === pending) this.refreshing = undefined
          }
        }
      } catch (refreshError) {
        throw new RegistryError(
          `${(error as Error).message}; fresh credentials could not be had either: ${(refreshError as Error).message}`,
          { status: (error as RegistryError).status, retryable: false, cause: refreshError }
        )
      }
      try {
        return await this.requestToken(challenge, scopes)
      } catch (again) {
        if (again instanceof RegistryError && (again.status === 401 || again.status === 403))
          this.refreshUseless = true
        throw again
      }
    }
  }

  private async requestToken(challenge: Challenge, scopes: string[]): Promise<Token> {
    const realm = challenge.params.realm
    if (!realm)
      throw new RegistryError('the registry sent a Bearer challenge without a realm', { retryable: false })
    let url: URL
    try {
      url = new URL(realm)
    } catch {
      throw new RegistryError(`the registry sent a Bearer realm that is not a URL: ${realm}`, {
        retryable: false
      })
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.host))) {
      throw new RegistryError(`refusing to send credentials to a non-HTTPS token realm ${redactUrl(url)}`, {
        retryable: false
      })
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service)
    for (const scope of scopes) url.searchParams.append('scope', scope)
    const credentials = this.credentials
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent }
    if (credentials) headers.authorization = basicHeader(credentials)

    return withRetry(
      async () => {
        this.tokenRequests++
        const started = this.now()
        let response: Dispatcher.ResponseData
        try {
          response = await request(url, {
            method: 'GET',
            headers,
            dispatcher: this.options.dispatcher,
            signal: this.options.retry.signal
          })
        } catch (error) {
          if (this.options.retry.signal?.aborted) throw error
          throw toNetworkError(
            `token request`,
            'GET',
            url,
            error,
            this.options.dispatcher as RouteDescriber,
            this.network
          )
        }
        const text = await response.body.text()
        if (response.statusCode !== 200) {
          const details = parseErrorBody(text)
          const why = formatDetails(details) || `HTTP ${response.statusCode}`
          throw new RegistryError(
            response.statusCode === 401 || response.statusCode === 403
              ? `token server ${url.host} refused the credentials for ${scopes.join(' ')}: ${why}`
              : `token server ${url.host} answered ${response.statusCode}: ${why}`,
            {
              status: response.statusCode,
              method: 'GET',
              url: redactUrl(url),
              details,
              retryAfterMs: parseRetryAfter(header(response.headers, 'retry-after'))
            }
          )
        }
        let body: { token?: string; access_token?: string; expires_in?: number; issued_at?: string }
        try {
          body = JSON.parse(text) as typeof body
        } catch (error) {
          throw new RegistryError(`token server ${url.host} answered with invalid JSON`, {
            retryable: true,
            cause: error
          })
        }
        const value = body.token ?? body.access_token
        if (!value)
          throw new RegistryError(`token server ${url.host} answered without a token`, { retryable: false })
        this.options.onSecret?.(value)
        const lifetimeMs =
          (typeof body.expires_in === 'number' && body.expires_in > 0
            ? body.expires_in
            : DEFAULT_TOKEN_LIFETIME_S) * 1000
        // Refresh a little early: a request started just before expiry must not carry a dead token.
        const margin = Math.min(30_000, lifetimeMs * 0.1)
        this.options.logger.debug(
          `token for ${scopes.join(' ')} from ${url.host}, valid ${Math.round(lifetimeMs / 1000)} s`
        )
        this.realmReached = true
        return { value, expiresAt: started + lifetimeMs - margin, granted: decodeGrantedAccess(value) }
        // A token realm that never answered gets the reach budget, as a registry does.
      },
      { ...this.options.retry, ...(this.realmReached ? {} : { maxElapsedMs: this.network.reachBudgetMs }) }
    )
  }
}

function scopeKey(scopes: string[]): string {
  return [...scopes].sort().join(' ')
}

/** A short plain-text body (a proxy's or load balancer's words); nothing for HTML or long bodies. */
function plainWords(text: string): string {
  const trimmed = text.trim()
  return trimmed && trimmed.length <= 300 && !trimmed.startsWith('<') ? trimmed.replace(/\s+/g, ' ') : ''
}

export function basicHeader(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`
}

/** Reads the `access` claim of a JWT token (Docker Hub, distribution token servers). */
export function decodeGrantedAccess(token: string): GrantedAccess[] | undefined {
  const parts = token.split('.')
  if (parts.length !== 3) return undefined
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { access?: unknown }
    if (!Array.isArray(claims.access)) return undefined
    return claims.access.map((a: { type?: unknown; name?: unknown; actions?: unknown }) => ({
      type: String(a.type ?? ''),
      name: String(a.name ?? ''),
      actions: Array.isArray(a.actions) ? a.actions.map(String) : []
    }))
  } catch {
    return undefined
  }
}

export function header(
  headers: Record<string, string | string[] | undefined>,
  name: string
): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}
