import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals'
import { mockClient } from 'aws-sdk-client-mock'
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr'
import { Agent } from 'undici'
import {
  AwsSession,
  isRetryableAwsError,
  parseEcrHost,
  tokenClaims,
  type AwsOptions
} from '../src/aws/session.js'
import { lazySdk } from '../src/aws/sdk.js'
import { silentLogger } from '../src/registry/index.js'

const sts = mockClient(STSClient)
const ecr = mockClient(ECRClient)
const ROLE = 'arn:aws:iam::123456789012:role/promoter'
const HOST = '123456789012.dkr.ecr.us-east-1.amazonaws.com'
const REGISTRY = parseEcrHost(HOST)!
const idToken = [
  Buffer.from('{"alg":"RS256"}').toString('base64url'),
  Buffer.from(
    JSON.stringify({
      sub: 'repo:acme/app:ref:refs/tags/v1.4.2',
      aud: 'sts.amazonaws.com',
      iss: 'https://token.actions.githubusercontent.com'
    })
  ).toString('base64url'),
  'signature-part'
].join('.')
const oidcEnv = {
  ACTIONS_ID_TOKEN_REQUEST_URL: 'http://127.0.0.1:1/token',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token'
}
const options: AwsOptions = {
  roleToAssume: ROLE,
  audience: 'sts.amazonaws.com',
  roleSessionName: 'ecr-promote-test',
  roleDurationSeconds: 3600
}
const stsCredentials = {
  AccessKeyId: 'ASIAEXAMPLEKEY',
  SecretAccessKey: 'secret-access-key',
  SessionToken: 'session-token',
  Expiration: new Date(Date.now() + 3600_000)
}
const ecrToken = Buffer.from('AWS:ecr-password-123').toString('base64')

function awsError(name: string, message: string, status = 400) {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } })
}

let dispatcher: Agent
let secrets: string[]
let getIdToken: jest.Mock<(audience: string) => Promise<string>>

function session(overrides: Partial<AwsOptions> = {}, env: NodeJS.ProcessEnv = oidcEnv) {
  return new AwsSession(
    { ...options, ...overrides },
    {
      dispatcher,
      logger: silentLogger,
      onSecret: (s) => secrets.push(s),
      getIdToken,
      sdk: lazySdk,
      env,
      retry: { baseDelayMs: 1, maxDelayMs: 2 }
    }
  )
}

beforeEach(() => {
  sts.reset()
  ecr.reset()
  dispatcher = new Agent()
  secrets = []
  getIdToken = jest.fn(async () => idToken)
  sts
    .on(AssumeRoleWithWebIdentityCommand)
    .resolves({ Credentials: stsCredentials, AssumedRoleUser: { Arn: `${ROLE}/x`, AssumedRoleId: 'x' } })
  ecr
    .on(GetAuthorizationTokenCommand)
    .resolves({ authorizationData: [{ authorizationToken: ecrToken, proxyEndpoint: `https://${HOST}` }] })
})
afterEach(async () => dispatcher.close())

describe('parseEcrHost', () => {
  test.each([
    [HOST, { accountId: '123456789012', region: 'us-east-1', fips: false, dualStack: false }],
    [
      '123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn',
      { accountId: '123456789012', region: 'cn-north-1', fips: false, dualStack: false }
    ],
    [
      '123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com',
      { accountId: '123456789012', region: 'us-gov-west-1', fips: true, dualStack: false }
    ],
    [
      '123456789012.dkr-ecr.eu-west-1.on.aws',
      { accountId: '123456789012', region: 'eu-west-1', fips: false, dualStack: true }
    ],
    [
      '123456789012.dkr-ecr-fips.us-east-2.on.aws',
      { accountId: '123456789012', region: 'us-east-2', fips: true, dualStack: true }
    ],
    [
      '123456789012.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn',
      { accountId: '123456789012', region: 'cn-northwest-1', fips: false, dualStack: true }
    ],
    [
      '123456789012.dkr.ecr.ap-southeast-4.amazonaws.com:443',
      { accountId: '123456789012', region: 'ap-southeast-4', fips: false, dualStack: false }
    ],
    [
      '123456789012.DKR.ECR.US-EAST-1.AMAZONAWS.COM',
      { accountId: '123456789012', region: 'us-east-1', fips: false, dualStack: false }
    ],
    // The AWS European Sovereign Cloud: its own partition suffix and a four-letter region prefix.
    [
      '123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu',
      { accountId: '123456789012', region: 'eusc-de-east-1', fips: false, dualStack: false }
    ],
    [
      '123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov',
      { accountId: '123456789012', region: 'us-iso-east-1', fips: false, dualStack: false }
    ],
    [
      '123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk',
      { accountId: '123456789012', region: 'eu-isoe-west-1', fips: false, dualStack: false }
    ],
    [
      '123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov',
      { accountId: '123456789012', region: 'us-isof-south-1', fips: false, dualStack: false }
    ]
  ])('%s', (host, expected) => {
    expect(parseEcrHost(host)).toEqual(expected)
  })

  test.each([
    'registry-1.docker.io',
    'public.ecr.aws',
    '12345678901.dkr.ecr.us-east-1.amazonaws.com',
    '123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example',
    '123456789012.dkr.ecr.us-east-1.example.com',
    '123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu.example',
    'ecr.us-east-1.amazonaws.com'
  ])('%s is not ECR', (host) => {
    expect(parseEcrHost(host)).toBeUndefined()
  })
})

describe('AwsSession with role-to-assume', () => {
  test('assumes the role with the OIDC token, logs in to ECR with its credentials, masks every secret', async () => {
    const login = await session().ecrLogin(REGISTRY, HOST)
    expect(login).toEqual({ username: 'AWS', password: 'ecr-password-123' })
    expect(getIdToken).toHaveBeenCalledWith('sts.amazonaws.com')
    const assume = sts.commandCalls(AssumeRoleWithWebIdentityCommand)
    expect(assume).toHaveLength(1)
    expect(assume[0].args[0].input).toEqual({
      RoleArn: ROLE,
      RoleSessionName: 'ecr-promote-test',
      WebIdentityToken: idToken,
      DurationSeconds: 3600
    })
    const token = ecr.commandCalls(GetAuthorizationTokenCommand)
    expect(token).toHaveLength(1)
    expect(token[0].args[0].input).toEqual({ registryIds: ['123456789012'] })
    for (const secret of [
      idToken,
      'ASIAEXAMPLEKEY',
      'secret-access-key',
      'session-token',
      ecrToken,
      'ecr-password-123'
    ]) {
      expect(secrets).toContain(secret)
    }
  })

  test('one role assumption and one login per registry, however often asked', async () => {
    const aws = session()
    await Promise.all([aws.ecrLogin(REGISTRY, HOST), aws.ecrLogin(REGISTRY, HOST)])
    const other = '210987654321.dkr.ecr.eu-west-1.amazonaws.com'
    await aws.ecrLogin(parseEcrHost(other)!, other)
    expect(sts.commandCalls(AssumeRoleWithWebIdentityCommand)).toHaveLength(1)
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(2)
  })

  test('AccessDenied is not retried and names the role and the token claims', async () => {
    sts
      .on(AssumeRoleWithWebIdentityCommand)
      .rejects(awsError('AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity', 403))
    await expect(session().ecrLogin(REGISTRY, HOST)).rejects.toThrow(
      new RegExp(
        `assume role ${ROLE}: AccessDenied: Not authorized.*sub "repo:acme/app:ref:refs/tags/v1.4.2", aud "sts.amazonaws.com"`
      )
    )
    expect(sts.commandCalls(AssumeRoleWithWebIdentityCommand)).toHaveLength(1)
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(0)
  })

  test('throttling is retried until it succeeds', async () => {
    sts
      .on(AssumeRoleWithWebIdentityCommand)
      .rejectsOnce(awsError('Throttling', 'Rate exceeded', 400))
      .rejectsOnce(awsError('IDPCommunicationError', 'try again', 400))
      .resolves({ Credentials: stsCredentials })
    await expect(session().ecrLogin(REGISTRY, HOST)).resolves.toEqual({
      username: 'AWS',
      password: 'ecr-password-123'
    })
    expect(sts.commandCalls(AssumeRoleWithWebIdentityCommand)).toHaveLength(3)
  })

  test('a job without id-token: write fails with the fix, asking for no token', async () => {
    await expect(session({}, {}).ecrLogin(REGISTRY, HOST)).rejects.toThrow(/permissions: id-token: write/)
    expect(getIdToken).not.toHaveBeenCalled()
    expect(sts.commandCalls(AssumeRoleWithWebIdentityCommand)).toHaveLength(0)
  })

  test('InvalidIdentityToken points at the identity provider', async () => {
    sts
      .on(AssumeRoleWithWebIdentityCommand)
      .rejects(awsError('InvalidIdentityToken', 'No OpenIDConnect provider found'))
    await expect(session().ecrLogin(REGISTRY, HOST)).rejects.toThrow(/registered as an IAM identity provider/)
  })
})

describe('AwsSession without a role', () => {
  test('uses the default credential chain: no STS call', async () => {
    const login = await session({ roleToAssume: undefined }, {}).ecrLogin(REGISTRY, HOST)
    expect(login.username).toBe('AWS')
    expect(sts.commandCalls(AssumeRoleWithWebIdentityCommand)).toHaveLength(0)
    expect(getIdToken).not.toHaveBeenCalled()
  })

  test('ECR AccessDenied says which permission is missing', async () => {
    ecr
      .on(GetAuthorizationTokenCommand)
      .rejects(awsError('AccessDeniedException', 'not authorized to perform: ecr:GetAuthorizationToken', 400))
    await expect(session({ roleToAssume: undefined }, {}).ecrLogin(REGISTRY, HOST)).rejects.toThrow(
      /ECR login for 123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com: AccessDeniedException.*needs ecr:GetAuthorizationToken/
    )
  })

  test('no credentials anywhere says how to provide them', async () => {
    ecr
      .on(GetAuthorizationTokenCommand)
      .rejects(awsError('CredentialsProviderError', 'Could not load credentials from any providers'))
    await expect(session({ roleToAssume: undefined }, {}).ecrLogin(REGISTRY, HOST)).rejects.toThrow(
      /no AWS credentials: set role-to-assume.*configure-aws-credentials/
    )
  })
})

describe('helpers', () => {
  test.each([
    [awsError('Throttling', 'x'), true],
    [awsError('ThrottlingException', 'x'), true],
    [awsError('InternalError', 'x', 500), true],
    [awsError('Whatever', 'x', 503), true],
    [awsError('AccessDenied', 'x', 403), false],
    [awsError('ValidationError', 'x', 400), false],
    [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), true]
  ])('isRetryableAwsError(%s) = %s', (error, expected) => {
    expect(isRetryableAwsError(error)).toBe(expected)
  })

  test('tokenClaims reads sub, aud and iss; anything else gives nothing', () => {
    expect(tokenClaims(idToken)).toEqual({
      sub: 'repo:acme/app:ref:refs/tags/v1.4.2',
      aud: 'sts.amazonaws.com',
      iss: 'https://token.actions.githubusercontent.com'
    })
    expect(tokenClaims('opaque')).toEqual({})
  })
})
