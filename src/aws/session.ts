// AWS: get AWS credentials (OIDC role assumption or the SDK's default chain), and exchange them for
// an ECR registry login. The SDK clients load only when an ECR host
// is involved, so promotions between other registries do not pay their start-up cost.
import type { Dispatcher } from 'undici'
import { UndiciRequestHandler } from './http.js'
import type { AwsSdk } from './sdk.js'
import {
  isRetryable,
  RegistryError,
  withRetry,
  type Credentials,
  type Logger,
  type RetryOptions
} from '../registry/index.js'

export { parseEcrHost, type EcrRegistry } from './hosts.js'
import { ECR_PUBLIC_HOST, ECR_PUBLIC_REGION, type EcrRegistry } from './hosts.js'

export interface AwsOptions {
  roleToAssume?: string
  audience: string
  roleSessionName: string
  roleDurationSeconds: number
  region?: string
}

export interface AwsDependencies {
  dispatcher: Dispatcher
  logger: Logger
  onSecret: (secret: string) => void
  getIdToken: (audience: string) => Promise<string>
  /** How the SDK clients are loaded: lazily for the action, bundled for the CLI (see sdk.ts). */
  sdk: AwsSdk
  /** Where getIdToken finds the token: GitHub's OIDC endpoint (checked for first), or elsewhere. */
  tokenSource?: 'github' | 'other'
  env?: NodeJS.ProcessEnv
  retry?: RetryOptions
}

export type EcrSdk = Awaited<ReturnType<AwsSdk['ecr']>>
export type EcrApiClient = InstanceType<EcrSdk['ECRClient']>

interface AwsCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
  expiration?: Date
}

export class AwsError extends Error {
  override name = 'AwsError'
}

const RETRYABLE_AWS_ERRORS = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'IDPCommunicationError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalError',
  'InternalFailure',
  'RequestTimeout',
  'RequestTimeoutException'
])

/** Throttling, transient service errors and network failures; never AccessDenied or bad input. */
export function isRetryableAwsError(error: unknown): boolean {
  const e = error as { name?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } }
  if (e?.name && RETRYABLE_AWS_ERRORS.has(e.name)) return true
  if (e?.$retryable) return true
  const status = e?.$metadata?.httpStatusCode
  if (status !== undefined && (status === 429 || status >= 500)) return true
  return isRetryable(error)
}

/** One run's AWS state: credentials obtained once, one ECR login per registry. */
export class AwsSession {
  private credentials?: Promise<AwsCredentials | undefined>
  private readonly logins = new Map<string, Promise<Credentials>>()
  private readonly handler: UndiciRequestHandler

  constructor(
    private readonly options: AwsOptions,
    private readonly deps: AwsDependencies
  ) {
    this.handler = new UndiciRequestHandler(deps.dispatcher)
  }

  /** Basic credentials (`AWS`, password) for an ECR registry. */
  ecrLogin(registry: EcrRegistry, host: string): Promise<Credentials> {
    let login = this.logins.get(host)
    if (!login) {
      login = this.fetchEcrLogin(registry, host)
      this.logins.set(host, login)
    }
    return login
  }

  private async fetchEcrLogin(registry: EcrRegistry, host: string): Promise<Credentials> {
    const credentials = await this.awsCredentials(registry.region)
    const { GetAuthorizationTokenCommand } = await this.deps.sdk.ecr()
    const client = await this.ecrClient(registry, credentials, 1)
    try {
      const output = await this.retry(() =>
        client.send(new GetAuthorizationTokenCommand({ registryIds: [registry.accountId] }))
      )
      const login = this.decodeToken(output.authorizationData?.[0]?.authorizationToken)
      this.deps.logger.info(
        `ECR login for ${host} obtained (account ${registry.accountId}, ${registry.region})`
      )
      return login
    } catch (error) {
      throw new AwsError(`ECR login for ${host}: ${explainEcrError(error, credentials !== undefined)}`, {
        cause: error
      })
    } finally {
      client.destroy()
    }
  }

  /**
   * The status ECR gives an image (ACTIVE, ARCHIVED, ACTIVATING), to explain a source that answers
   * 404; undefined when it cannot tell (no such image, no ecr:DescribeImages). Never throws.
   */
  async imageStatus(
    registry: EcrRegistry,
    repository: string,
    reference: string
  ): Promise<string | undefined> {
    try {
      const credentials = await this.awsCredentials(registry.region)
      const { DescribeImagesCommand } = await this.deps.sdk.ecr()
      const client = await this.ecrClient(registry, credentials, 2)
      try {
        const id = reference.includes(':') ? { imageDigest: reference } : { imageTag: reference }
        const output = await client.send(
          new DescribeImagesCommand({
            registryId: registry.accountId,
            repositoryName: repository,
            imageIds: [id]
          })
        )
        return output.imageDetails?.[0]?.imageStatus
      } finally {
        client.destroy()
      }
    } catch {
      return undefined
    }
  }

  /**
   * Runs `use` with an ECR API client for the registry (the run's credentials, our HTTP handler),
   * retrying throttling and transient failures; the client is closed afterwards.
   */
  async withEcrApi<T>(
    registry: EcrRegistry,
    use: (client: EcrApiClient, sdk: EcrSdk) => Promise<T>
  ): Promise<T> {
    const credentials = await this.awsCredentials(registry.region)
    const sdk = await this.deps.sdk.ecr()
    const client = await this.ecrClient(registry, credentials, 1)
    try {
      return await this.retry(() => use(client, sdk))
    } finally {
      client.destroy()
    }
  }

  /**
   * Basic credentials for ECR Public (a destination): ecr-public:GetAuthorizationToken, served in
   * us-east-1 only (it also needs sts:GetServiceBearerToken), with the same credentials as ECR.
   */
  ecrPublicLogin(): Promise<Credentials> {
    let login = this.logins.get(ECR_PUBLIC_HOST)
    if (!login) {
      login = this.fetchEcrPublicLogin()
      this.logins.set(ECR_PUBLIC_HOST, login)
    }
    return login
  }

  private async fetchEcrPublicLogin(): Promise<Credentials> {
    const credentials = await this.awsCredentials(ECR_PUBLIC_REGION)
    const { ECRPUBLICClient, GetAuthorizationTokenCommand } = await this.deps.sdk.ecrPublic()
    const client = new ECRPUBLICClient({
      region: ECR_PUBLIC_REGION,
      credentials,
      requestHandler: this.handler,
      maxAttempts: 1
    })
    try {
      const output = await this.retry(() => client.send(new GetAuthorizationTokenCommand({})))
      const login = this.decodeToken(output.authorizationData?.authorizationToken)
      this.deps.logger.info(`ECR Public login obtained (${ECR_PUBLIC_REGION})`)
      return login
    } catch (error) {
      const explained = explainEcrError(error, credentials !== undefined).replace(
        'ecr:GetAuthorizationToken (resource "*")',
        'ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken (resource "*")'
      )
      throw new AwsError(`ECR Public login: ${explained}`, { cause: error })
    } finally {
      client.destroy()
    }
  }

  /** An ECR API client for the registry's region and endpoint flavour, through our HTTP handler. */
  private async ecrClient(
    registry: EcrRegistry,
    credentials: AwsCredentials | undefined,
    maxAttempts: number
  ) {
    const { ECRClient } = await this.deps.sdk.ecr()
    return new ECRClient({
      region: registry.region,
      credentials,
      useFipsEndpoint: registry.fips || undefined,
      useDualstackEndpoint: registry.dualStack || undefined,
      requestHandler: this.handler,
      maxAttempts
    })
  }

  /** An ECR (or ECR Public) authorization token: base64 of USER:PASSWORD, both masked first. */
  private decodeToken(token: string | undefined): Credentials {
    if (!token) throw new AwsError('the answer carried no authorization token')
    this.deps.onSecret(token)
    const decoded = Buffer.from(token, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon < 1) throw new AwsError('the authorization token is not USER:PASSWORD')
    const password = decoded.slice(colon + 1)
    this.deps.onSecret(password)
    return { username: decoded.slice(0, colon), password }
  }

  /** Role credentials from the OIDC exchange, or undefined to let the SDK use its default chain. */
  private awsCredentials(ecrRegion: string): Promise<AwsCredentials | undefined> {
    this.credentials ??= this.options.roleToAssume
      ? this.assumeRole(this.options.roleToAssume, this.options.region ?? ecrRegion)
      : Promise.resolve(undefined)
    return this.credentials
  }

  private async assumeRole(roleArn: string, region: string): Promise<AwsCredentials> {
    const env = this.deps.env ?? process.env
    const github = (this.deps.tokenSource ?? 'github') === 'github'
    if (github && (!env.ACTIONS_ID_TOKEN_REQUEST_URL || !env.ACTIONS_ID_TOKEN_REQUEST_TOKEN)) {
      throw new AwsError(
        `assume role ${roleArn}: this job cannot get an OIDC token. Add "permissions: id-token: write" ` +
          `to the job (ACTIONS_ID_TOKEN_REQUEST_URL is not set), or leave role-to-assume empty to use ` +
          `credentials from aws-actions/configure-aws-credentials`
      )
    }
    let idToken: string
    try {
      idToken = await this.retry(() => this.deps.getIdToken(this.options.audience))
    } catch (error) {
      throw new AwsError(`assume role ${roleArn}: getting the OIDC token failed: ${messageOf(error)}`, {
        cause: error
      })
    }
    this.deps.onSecret(idToken)

    const { STSClient, AssumeRoleWithWebIdentityCommand } = await this.deps.sdk.sts()
    const client = new STSClient({ region, requestHandler: this.handler, maxAttempts: 1 })
    try {
      const output = await this.retry(() =>
        client.send(
          new AssumeRoleWithWebIdentityCommand({
            RoleArn: roleArn,
            RoleSessionName: this.options.roleSessionName,
            WebIdentityToken: idToken,
            DurationSeconds: this.options.roleDurationSeconds
          })
        )
      )
      const c = output.Credentials
      if (!c?.AccessKeyId || !c.SecretAccessKey) throw new AwsError('STS answered without credentials')
      this.deps.onSecret(c.AccessKeyId)
      this.deps.onSecret(c.SecretAccessKey)
      if (c.SessionToken) this.deps.onSecret(c.SessionToken)
      this.deps.logger.info(`assumed role ${output.AssumedRoleUser?.Arn ?? roleArn}`)
      return {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: c.Expiration
      }
    } catch (error) {
      if (error instanceof AwsError) throw error
      throw new AwsError(
        `assume role ${roleArn}: ${explainStsError(error, idToken, this.options.audience)}`,
        {
          cause: error
        }
      )
    } finally {
      client.destroy()
    }
  }

  private retry<T>(operation: () => Promise<T>): Promise<T> {
    return withRetry(operation, {
      attempts: 4,
      baseDelayMs: 500,
      ...this.deps.retry,
      retryable: isRetryableAwsError,
      onRetry: (error, attempt, delay) =>
        this.deps.logger.warning(`AWS call failed (${messageOf(error)}); retry ${attempt} in ${delay} ms`)
    })
  }
}

function explainStsError(error: unknown, idToken: string, audience: string): string {
  if (error instanceof RegistryError && error.network) return error.message
  const name = (error as { name?: string }).name ?? 'Error'
  const message = messageOf(error)
  const claims = tokenClaims(idToken)
  const hint =
    `The role's trust policy must allow sts:AssumeRoleWithWebIdentity for the GitHub OIDC provider with ` +
    `this token's claims: sub "${claims.sub ?? '?'}", aud "${claims.aud ?? audience}"` +
    (claims.iss ? `, iss "${claims.iss}"` : '')
  if (name === 'AccessDenied' || name === 'AccessDeniedException') return `${name}: ${message}. ${hint}`
  if (name === 'InvalidIdentityToken' || name === 'InvalidIdentityTokenException') {
    return `${name}: ${message}. Is token.actions.githubusercontent.com registered as an IAM identity provider with audience "${audience}"? ${hint}`
  }
  if (name === 'ValidationError')
    return `${name}: ${message} (check role-to-assume, role-session-name and role-duration-seconds)`
  return `${name}: ${message}`
}

function explainEcrError(error: unknown, assumedRole: boolean): string {
  if (error instanceof RegistryError && error.network) return error.message
  const name = (error as { name?: string }).name ?? 'Error'
  const message = messageOf(error)
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return (
      `no AWS credentials: set role-to-assume (with "permissions: id-token: write"), or run ` +
      `aws-actions/configure-aws-credentials before this step (${message})`
    )
  }
  if (name === 'AccessDeniedException' || name === 'AccessDenied') {
    return `${name}: ${message}. The ${assumedRole ? 'role' : 'AWS identity'} needs ecr:GetAuthorizationToken (resource "*")`
  }
  if (
    name === 'UnrecognizedClientException' ||
    name === 'InvalidSignatureException' ||
    name === 'ExpiredTokenException'
  ) {
    return `${name}: ${message}. The AWS credentials are invalid or expired`
  }
  return `${name}: ${message}`
}

/** The claims of a JWT, for hints; an OIDC token's sub and aud are not secret, its signature is. */
export function tokenClaims(token: string): { sub?: string; aud?: string; iss?: string } {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >
    const aud = Array.isArray(claims.aud) ? claims.aud.join(',') : claims.aud
    return {
      sub: typeof claims.sub === 'string' ? claims.sub : undefined,
      aud: typeof aud === 'string' ? aud : undefined,
      iss: typeof claims.iss === 'string' ? claims.iss : undefined
    }
  } catch {
    return {}
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
