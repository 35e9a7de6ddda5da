// What to fix when a registry refuses us: which inputs, which namespace, which permission.
import { parseEcrHost } from '../aws/session.js'
import type { Inputs } from './options.js'
import { isDockerHub, RegistryError } from '../registry/index.js'

export type Side = 'source' | 'destination'

/**
 * The fix for a 401/403 on one side, naming the inputs that carry its credentials; undefined for
 * other errors. With no credentials at all it says so: a `docker/login-action` login is not used.
 */
export function accessHint(inputs: Inputs, side: Side, error: unknown): string | undefined {
  if (!(error instanceof RegistryError) || (error.status !== 401 && error.status !== 403)) return undefined
  const ref = side === 'source' ? inputs.source : inputs.destination
  const given = side === 'source' ? inputs.sourceCredentials : inputs.destinationCredentials
  const inputsNamed = `${side}-username and ${side}-password`
  if (inputs.githubTokenSides.includes(side)) {
    return side === 'destination'
      ? 'the job\'s github-token was refused for writing: give the job "permissions: packages: write", and if the ' +
          `package ${ref.repository} exists already, grant this repository access to it (package settings > Manage Actions access)`
      : 'the job\'s github-token was refused: give the job "permissions: packages: read", and access to the package (package settings > Manage Actions access)'
  }
  if (inputs.dockerHubOidc?.side === side) {
    return (
      `the Docker Hub OIDC login for organisation ${inputs.dockerHubOidc.organisation} was refused: the repository's ` +
      `namespace ${namespaceOf(ref.repository)} must be that organisation, and the connection must grant ` +
      `${side === 'destination' ? 'Read & Write' : 'Read'} access to ${ref.repository}`
    )
  }
  if (!given && parseEcrHost(ref.registry)) {
    return `the ECR login was refused: the AWS identity needs ${side === 'source' ? 'ecr:BatchGetImage and ecr:GetDownloadUrlForLayer' : 'ecr:PutImage, ecr:InitiateLayerUpload, ecr:UploadLayerPart, ecr:CompleteLayerUpload and ecr:BatchCheckLayerAvailability'} on this repository`
  }
  if (!given) {
    return (
      `no ${side} credentials were given: set ${inputsNamed}. A docker/login-action (or docker login) ` +
      `earlier in the job is not used: this action logs in itself and reads no Docker config`
    )
  }
  if (isDockerHub(ref.registry)) {
    return side === 'destination'
      ? `check ${inputsNamed}: destination-password must be a Docker Hub access token with Read & Write scope, and destination-username the user or organisation that owns namespace ${namespaceOf(ref.repository)}`
      : `check ${inputsNamed} (a Docker Hub access token with Read scope)`
  }
  return `check ${inputsNamed}, and that they may ${side === 'source' ? 'pull from' : 'push to'} ${ref.repository}`
}

/**
 * A refused tag check. Docker Hub answers 401 (`denied`) for a repository in a namespace these
 * credentials cannot use: name the namespace and who must own it.
 */
export function explainTagCheck(inputs: Inputs, error: unknown): string | undefined {
  const ref = inputs.destination
  if (
    error instanceof RegistryError &&
    (error.status === 401 || error.status === 403) &&
    isDockerHub(ref.registry) &&
    inputs.destinationCredentials
  ) {
    const namespace = namespaceOf(ref.repository)
    return (
      `Docker Hub refused namespace ${namespace}: destination-username ` +
      `must be ${namespace} itself or a member of organisation ${namespace} with write access to ${ref.repository}, ` +
      `and destination-password an access token with Read & Write scope`
    )
  }
  return accessHint(inputs, 'destination', error)
}

function namespaceOf(repository: string): string {
  return repository.split('/')[0]
}
