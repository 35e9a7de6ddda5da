// Docker Hub without a stored secret: the workflow's OIDC token (audience https://identity.docker.com)
// exchanged at Docker's identity service for a short-lived access token of an organisation's OIDC
// connection (RFC 8693 token exchange), which then logs in as the organisation. Exchanged again when
// the registry's token server refuses an expired one.
import { request, type Dispatcher } from 'undici'
import { RegistryError, type Credentials } from '../registry/index.js'
import { PromotionError } from './errors.js'

export const DOCKER_IDENTITY_URL = 'https://identity.docker.com'
export const DOCKER_OIDC_AUDIENCE = 'https://identity.docker.com'
/** The service allows 300-3600 s; a long copy needs the most, and a refusal exchanges again. */
export const DEFAULT_LIFETIME_S = 3600
const ATTEMPTS = 4

export interface ExchangeOptions {
  connectionId: string
  /** The Docker Hub organisation that owns the connection: the username of the login. */
  organisation: string
  getIdToken: (audience: string) => Promise<string>
  dispatcher: Dispatcher
  onSecret: (secret: string) => void
  /** Tests and slow links: ECR_PROMOTE_DOCKER_IDENTITY_URL, ECR_PROMOTE_DOCKER_OIDC_LIFETIME_S. */
  endpoint?: string
  lifetimeSeconds?: number
  signal?: AbortSignal
  sleep?: (ms: number) => Promise<void>
}

/** The form the identity service takes, field for field. */
export function exchangeForm(idToken: string, connectionId: string, lifetimeSeconds: number): string {
  return new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    subject_token: idToken,
    connection_id: connectionId,
    expires_in: String(lifetimeSeconds)
  }).toString()
}

/** Docker Hub credentials for the organisation, from a fresh OIDC token. */
export async function exchangeDockerHubToken(options: ExchangeOptions): Promise<Credentials> {
  const endpoint = (options.endpoint ?? DOCKER_IDENTITY_URL).replace(/\/+$/, '')
  const lifetime = options.lifetimeSeconds ?? DEFAULT_LIFETIME_S
  let idToken: string
  try {
    idToken = await options.getIdToken(DOCKER_OIDC_AUDIENCE)
  } catch (error) {
    throw new PromotionError(
      `Docker Hub OIDC: could not get the workflow's OIDC token (${(error as Error).message}); ` +
        'give the job "permissions: id-token: write"',
      { cause: error, kind: 'access' }
    )
  }
  options.onSecret(idToken)
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  for (let attempt = 1; ; attempt++) {
    let response: Dispatcher.ResponseData
    try {
      response = await request(`${endpoint}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: exchangeForm(idToken, options.connectionId, lifetime),
        dispatcher: options.dispatcher,
        signal: options.signal
      })
    } catch (error) {
      if (attempt < ATTEMPTS && !options.signal?.aborted) {
        await sleep(backoff(attempt))
        continue
      }
      throw new PromotionError(
        `Docker Hub OIDC: cannot reach ${new URL(endpoint).host}: ${(error as Error).message}`,
        { cause: error }
      )
    }
    const text = await response.body.text()
    if (response.statusCode === 200) return credentialsFrom(text, options)
    if ((response.statusCode === 429 || response.statusCode >= 500) && attempt < ATTEMPTS) {
      const retryAfter = Number(response.headers['retry-after'])
      await sleep(
        Number.isFinite(retryAfter) && retryAfter >= 0 ? Math.min(retryAfter, 30) * 1000 : backoff(attempt)
      )
      continue
    }
    if (response.statusCode === 429 || response.statusCode >= 500) {
      throw new PromotionError(
        `Docker Hub OIDC: the identity service is ${response.statusCode === 429 ? 'rate-limiting this runner' : 'unavailable'} ` +
          `(HTTP ${response.statusCode} after ${ATTEMPTS} attempts); try again later`
      )
    }
    throw explainRefusal(response.statusCode, text, idToken, options)
  }
}

function credentialsFrom(text: string, options: ExchangeOptions): Credentials {
  let body: { access_token?: unknown }
  try {
    body = JSON.parse(text) as typeof body
  } catch (error) {
    throw new RegistryError('Docker Hub OIDC: the identity service answered with invalid JSON', {
      cause: error
    })
  }
  if (typeof body.access_token !== 'string' || !body.access_token) {
    throw new RegistryError('Docker Hub OIDC: the identity service answered without an access_token')
  }
  options.onSecret(body.access_token)
  return { username: options.organisation, password: body.access_token }
}

/** The service's refusal in words that say what to fix; the token's `sub`, never the token. */
function explainRefusal(status: number, text: string, idToken: string, options: ExchangeOptions): Error {
  let error = ''
  let description = ''
  try {
    const body = JSON.parse(text) as { error?: unknown; error_description?: unknown }
    error = typeof body.error === 'string' ? body.error : ''
    description = typeof body.error_description === 'string' ? body.error_description : ''
  } catch {
    description = text.slice(0, 200)
  }
  const said = [error, description].filter(Boolean).join(': ') || `HTTP ${status}`
  const words = `${error} ${description}`
  let fix: string
  if (/personal|user account|not an organi[sz]ation/i.test(words)) {
    fix = 'OIDC connections are for Docker Hub organisations, not personal accounts'
  } else if (
    /connection/i.test(description) &&
    /not found|unknown|does not exist|no such/i.test(description)
  ) {
    fix = `no OIDC connection ${options.connectionId} is known; check dockerhub-oidc-connection-id against the organisation's settings (Settings > OIDC connections)`
  } else if (/sub(ject)?\b|claim|rule ?set|not allowed|denied/i.test(words)) {
    fix = `the connection's rulesets do not match this workflow's token (sub: ${subjectOf(idToken)}); add a ruleset for it, e.g. repo:OWNER/REPO:ref:refs/tags/v*`
  } else {
    fix = "check the connection and its rulesets in the organisation's settings"
  }
  return new PromotionError(`Docker Hub OIDC: the identity service refused the exchange (${said}): ${fix}`, {
    kind: 'access'
  })
}

/** The `sub` claim of a JWT, read without verifying it (for the message only). */
export function subjectOf(jwt: string): string {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      sub?: unknown
    }
    return typeof payload.sub === 'string'
      ? payload.sub.replace(/[^\x20-\x7e]/g, '?').slice(0, 200)
      : 'unknown'
  } catch {
    return 'unknown'
  }
}

function backoff(attempt: number): number {
  return Math.random() * Math.min(8000, 500 * 2 ** attempt)
}
