// Getting in: credentials for each side (explicit, ECR through AWS, or anonymous), the registry
// clients, and the proof of write access that comes before any byte is copied.
import type { Dispatcher } from 'undici'
import { AwsSession, parseEcrHost } from '../aws/session.js'
import { isEcrPublicHost } from '../aws/hosts.js'
import type { Inputs } from './options.js'
import type { PromoteOptions, Reporter } from './promote.js'
import {
  probeUpload,
  pushAccess,
  RegistryClient,
  RegistryError,
  type Credentials,
  type Reference
} from '../registry/index.js'
import { accessHint } from './hints.js'
import { displayRegistry, PromotionError, wrap } from './errors.js'
import { exchangeDockerHubToken } from './dockerhub-oidc.js'

/**
 * Credentials for each side, each as soon as it is ready (a Docker Hub login need not wait for the
 * AWS one): the explicit inputs win; an ECR registry gets an ECR login (through the
 * OIDC role or the default AWS chain); anything else is anonymous.
 */
export function logIn(
  inputs: Inputs,
  options: PromoteOptions,
  dispatcher: Dispatcher
): [Promise<Credentials | undefined>, Promise<Credentials | undefined>] {
  const sides = [
    { ref: inputs.source, explicit: inputs.sourceCredentials, name: 'source' },
    { ref: inputs.destination, explicit: inputs.destinationCredentials, name: 'destination' }
  ]
  const oidc = inputs.dockerHubOidc
  const hub = sides.map((side) =>
    oidc?.side === side.name ? dockerHubLogin(inputs, options, dispatcher) : undefined
  )
  const ecr = sides.map((side, i) => (side.explicit || hub[i] ? undefined : parseEcrHost(side.ref.registry)))
  // ECR Public takes a login to push; its public images are pulled anonymously.
  const ecrPublic = sides.map(
    (side, i) =>
      side.name === 'destination' && !side.explicit && !hub[i] && isEcrPublicHost(side.ref.registry)
  )
  if (!ecr.some(Boolean) && !ecrPublic.some(Boolean)) {
    if (inputs.aws.roleToAssume) {
      options.reporter.warning(
        'role-to-assume is set, but no ECR registry needs an AWS login; the role is not used'
      )
    }
    return [
      hub[0] ?? Promise.resolve(inputs.sourceCredentials),
      hub[1] ?? Promise.resolve(inputs.destinationCredentials)
    ]
  }
  const aws = awsSessionFor(inputs, options, dispatcher)
  const [source, destination] = sides.map(async (side, i) => {
    const registry = ecr[i]
    if (hub[i]) return hub[i]
    if (ecrPublic[i]) {
      const login = () => aws.ecrPublicLogin()
      try {
        return await (options.shared ? options.shared.login(side.ref.registry, login) : login())
      } catch (error) {
        throw wrap(`log in to ${side.name} ${side.ref.registry}`, error)
      }
    }
    if (!registry) return side.explicit
    try {
      const login = () => aws.ecrLogin(registry, side.ref.registry)
      // A release set logs in to each ECR registry once.
      return await (options.shared ? options.shared.login(side.ref.registry, login) : login())
    } catch (error) {
      throw wrap(`log in to ${side.name} ${side.ref.registry}`, error)
    }
  })
  return [source, destination]
}

/** Each promotion's AWS session (a release set's promotions share one): made when first needed. */
const sessions = new WeakMap<Inputs, AwsSession>()

/**
 * The AWS session of this promotion: credentials obtained once, for ECR logins and the ECR API
 * (gates, the destination repository's settings). A release set shares one, so its role is assumed once.
 */
export function awsSessionFor(inputs: Inputs, options: PromoteOptions, dispatcher: Dispatcher): AwsSession {
  let session = sessions.get(inputs)
  if (session) return session
  const make = () =>
    new AwsSession(inputs.aws, {
      dispatcher,
      logger: options.reporter,
      onSecret: options.onSecret ?? (() => undefined),
      tokenSource: options.tokenSource,
      sdk: options.sdk ?? {
        ecr: () => Promise.reject(new Error('no AWS SDK loader was given to promote()')),
        sts: () => Promise.reject(new Error('no AWS SDK loader was given to promote()')),
        ecrPublic: () => Promise.reject(new Error('no AWS SDK loader was given to promote()'))
      },
      getIdToken:
        options.getIdToken ??
        (() => Promise.reject(new Error('no OIDC token source is configured for this run')))
    })
  session = options.shared ? options.shared.awsSession(make) : make()
  sessions.set(inputs, session)
  return session
}

/** ECR's status of a source image ('ARCHIVED', ...), when the source is ECR and AWS can say. */
export function sourceImageStatus(
  inputs: Inputs,
  repository: string,
  reference: string
): Promise<string | undefined> {
  const registry = parseEcrHost(inputs.source.registry)
  const session = sessions.get(inputs)
  return registry && session
    ? session.imageStatus(registry, repository, reference)
    : Promise.resolve(undefined)
}

/**
 * Fails before any byte is copied when the destination will refuse writes: from the token's own
 * grant where it says (Docker Hub), else by opening and cancelling an upload (skipped in a dry run,
 * which opens nothing).
 */
export async function proveWriteAccess(
  client: RegistryClient,
  inputs: Inputs,
  reporter: Reporter
): Promise<void> {
  const repository = inputs.destination.repository
  const where = `${displayRegistry(inputs.destination.registry)}/${repository}`
  const fix = accessHint(inputs, 'destination', new RegistryError('push refused', { status: 403 }))
  const access = await pushAccess(client, repository).catch((error: unknown) => {
    throw wrap(`check push access to ${where}`, error, accessHint(inputs, 'destination', error))
  })
  if (access === 'denied') {
    throw new PromotionError(
      `destination ${where}: the registry did not grant push access; nothing was written. ${fix}`,
      { kind: 'access' }
    )
  }
  if (access === 'granted') {
    reporter.info(`push access to ${where}: granted`)
    return
  }
  if (inputs.dryRun) return
  try {
    await probeUpload(client, repository)
  } catch (error) {
    if (error instanceof RegistryError && (error.status === 401 || error.status === 403)) {
      throw new PromotionError(
        `destination ${where}: the registry refused an upload (${error.message}); nothing was written. ${fix}`,
        { cause: error, kind: 'access' }
      )
    }
    if (error instanceof RegistryError && error.status === 404) {
      const hint = parseEcrHost(inputs.destination.registry)
        ? 'the repository does not exist, and ECR repositories must exist before a push: create it ' +
          (inputs.ecr.createRepository
            ? '(aws ecr create-repository; a creation template that covers the name must apply to CREATE_ON_PUSH)'
            : '(aws ecr create-repository), or set create-repository: true to have it created')
        : 'the repository does not exist or cannot be created by these credentials'
      throw new PromotionError(`destination ${where}: ${hint}; nothing was written`, { cause: error })
    }
    throw wrap(`check push access to ${where}`, error)
  }
}

/**
 * Docker Hub credentials through the organisation's OIDC connection (a fresh exchange each call: the
 * client calls it again when the token server refuses an expired access token).
 */
export function dockerHubLogin(
  inputs: Inputs,
  options: PromoteOptions,
  dispatcher: Dispatcher
): Promise<Credentials> {
  const oidc = inputs.dockerHubOidc!
  const login = options.shared
    ? options.shared.login(`dockerhub-oidc ${oidc.organisation}`, () => exchange(inputs, options, dispatcher))
    : exchange(inputs, options, dispatcher)
  return login as Promise<Credentials>
}

/** A fresh exchange (the access token expired during a long promotion). */
export function exchangeAgain(
  inputs: Inputs,
  options: PromoteOptions,
  dispatcher: Dispatcher
): Promise<Credentials> {
  options.reporter.info('Docker Hub OIDC: the access token has expired; exchanging a fresh OIDC token')
  return exchange(inputs, options, dispatcher)
}

function exchange(inputs: Inputs, options: PromoteOptions, dispatcher: Dispatcher): Promise<Credentials> {
  const oidc = inputs.dockerHubOidc!
  return exchangeDockerHubToken({
    connectionId: oidc.connectionId,
    organisation: oidc.organisation,
    endpoint: oidc.endpoint,
    lifetimeSeconds: oidc.lifetimeSeconds,
    dispatcher,
    signal: options.signal,
    onSecret: options.onSecret ?? (() => undefined),
    getIdToken:
      options.getIdToken ??
      (() => Promise.reject(new Error('no OIDC token source is configured for this run')))
  })
}

export function createClient(
  ref: Reference,
  credentials: Credentials | undefined,
  options: PromoteOptions,
  dispatcher: Dispatcher,
  signal: AbortSignal,
  refreshCredentials?: () => Promise<Credentials>
): RegistryClient {
  return new RegistryClient({
    refreshCredentials,
    registry: ref.registry,
    scheme: ref.scheme,
    credentials,
    dispatcher,
    logger: options.reporter,
    signal,
    network: options.network,
    onSecret: options.onSecret
  })
}
