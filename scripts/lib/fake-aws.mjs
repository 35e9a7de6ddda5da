// Stand-ins for what cannot run here: the GitHub OIDC token endpoint, STS and the ECR API. They
// answer the real wire formats (STS: query protocol with XML; ECR: JSON 1.1), so the real SDK
// clients talk to them through AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL_ECR unchanged.
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { createEcrApi, ECR_TARGET, ecrApiState } from './fake-ecr-api.mjs'

export const ACCOUNT = '123456789012'
export const ROLE = `arn:aws:iam::${ACCOUNT}:role/promoter`
export const ECR_HOST = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`
/** The password ECR hands out; the test registry's htpasswd entry for user AWS matches it. */
export const ECR_PASSWORD = 'ecr-registry-password-Zq9'
export const ECR_BCRYPT = '$2y$05$IbMquTJClcV668ho1h.rBOoGZcMdmca/kiei.deiwHNJ4Jh19l2am'
export const SUBJECT = 'repo:acme/app:ref:refs/tags/v1.4.2'

const b64url = (value) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

/**
 * Starts the three endpoints on one loopback port. `ambientKeys` are AWS keys the "runner" already
 * has (the default-chain path). Everything handed out is listed in `secrets` for leak scans.
 */
export async function startFakeAws({ ambientKeys } = {}) {
  const requestToken = `oidc-request-${randomBytes(12).toString('hex')}`
  const state = {
    oidcRequests: 0,
    /** @type {{ roleArn: string | null, sessionName: string | null, duration: string | null }[]} */
    stsCalls: [],
    /** @type {{ keyId: string | undefined, body: unknown }[]} */
    ecrCalls: [],
    /** @type {{ keyId: string | undefined, region: string | undefined }[]} */
    ecrPublicCalls: [],
    /** `repo:tag` of images that answer ARCHIVED to DescribeImages; and what was asked. */
    archived: new Set(),
    describeCalls: [],
    issuedKeys: new Set(ambientKeys ? [ambientKeys.accessKeyId] : []),
    secrets: [requestToken, ECR_PASSWORD, Buffer.from(`AWS:${ECR_PASSWORD}`).toString('base64')],
    // The ECR control plane (repositories, creation templates, scan findings, denials): each field
    // is documented in fake-ecr-api.mjs.
    ...ecrApiState()
  }
  const ecrApi = createEcrApi({ state, account: ACCOUNT, host: ECR_HOST })

  const server = createServer(async (req, res) => {
    const chunks = []
    for await (const chunk of req) chunks.push(chunk)
    const body = Buffer.concat(chunks).toString('utf8')
    const url = new URL(req.url, 'http://localhost')

    if (req.method === 'GET' && url.pathname === '/oidc') {
      state.oidcRequests++
      if (req.headers.authorization !== `Bearer ${requestToken}`)
        return send(res, 401, 'application/json', '{"message":"bad request token"}')
      const audience = url.searchParams.get('audience') ?? 'sts.amazonaws.com'
      const now = Math.floor(Date.now() / 1000)
      const token = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url({
        iss: 'https://token.actions.githubusercontent.com',
        sub: SUBJECT,
        aud: audience,
        iat: now,
        exp: now + 300
      })}.${randomBytes(32).toString('base64url')}`
      state.secrets.push(token)
      return send(res, 200, 'application/json', JSON.stringify({ value: token }))
    }

    const target = req.headers['x-amz-target']
    if (req.method === 'POST' && typeof target === 'string' && target.startsWith(ECR_TARGET)) {
      // Repositories, templates, scans, and any operation a test denied; undefined: answered below.
      const keyId = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1]
      const answer = ecrApi(target.slice(ECR_TARGET.length), keyId, JSON.parse(body || '{}'))
      if (answer) return send(res, answer.status, 'application/x-amz-json-1.1', JSON.stringify(answer.body))
    }
    if (req.method === 'POST' && target === 'AmazonEC2ContainerRegistry_V20150921.DescribeImages') {
      // Images a test has archived answer ARCHIVED (ECR's archive storage class); others are unknown.
      const input = JSON.parse(body || '{}')
      const id = input.imageIds?.[0] ?? {}
      const key = `${input.repositoryName}:${id.imageTag ?? id.imageDigest}`
      state.describeCalls.push(key)
      if (!state.archived.has(key)) {
        return send(
          res,
          400,
          'application/x-amz-json-1.1',
          JSON.stringify({
            __type: 'ImageNotFoundException',
            message: `The image with imageId ${key} does not exist`
          })
        )
      }
      return send(
        res,
        200,
        'application/x-amz-json-1.1',
        JSON.stringify({
          imageDetails: [
            {
              repositoryName: input.repositoryName,
              imageTags: id.imageTag ? [id.imageTag] : [],
              imageStatus: 'ARCHIVED'
            }
          ]
        })
      )
    }
    if (req.method === 'POST' && target === 'SpencerFrontendService.GetAuthorizationToken') {
      // ECR Public: one login for the whole public registry, served in us-east-1.
      const keyId = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1]
      const region = /Credential=[^/]+\/\d+\/([^/]+)\//.exec(req.headers.authorization ?? '')?.[1]
      state.ecrPublicCalls.push({ keyId, region })
      if (!keyId || !state.issuedKeys.has(keyId)) {
        return send(
          res,
          400,
          'application/x-amz-json-1.1',
          JSON.stringify({
            __type: 'UnrecognizedClientException',
            message: 'The security token included in the request is invalid.'
          })
        )
      }
      const token = Buffer.from(`AWS:${ECR_PASSWORD}`).toString('base64')
      state.secrets.push(token)
      return send(
        res,
        200,
        'application/x-amz-json-1.1',
        JSON.stringify({
          authorizationData: { authorizationToken: token, expiresAt: Date.now() / 1000 + 43200 }
        })
      )
    }
    if (req.method === 'POST' && target === 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken') {
      const keyId = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1]
      state.ecrCalls.push({ keyId, body: JSON.parse(body || '{}') })
      if (!keyId || !state.issuedKeys.has(keyId)) {
        return send(
          res,
          400,
          'application/x-amz-json-1.1',
          JSON.stringify({
            __type: 'UnrecognizedClientException',
            message: 'The security token included in the request is invalid.'
          })
        )
      }
      return send(
        res,
        200,
        'application/x-amz-json-1.1',
        JSON.stringify({
          authorizationData: [
            {
              authorizationToken: Buffer.from(`AWS:${ECR_PASSWORD}`).toString('base64'),
              expiresAt: Date.now() / 1000 + 43200,
              proxyEndpoint: `https://${ECR_HOST}`
            }
          ]
        })
      )
    }

    const form = new URLSearchParams(body)
    if (req.method === 'POST' && form.get('Action') === 'AssumeRoleWithWebIdentity') {
      const call = {
        roleArn: form.get('RoleArn'),
        sessionName: form.get('RoleSessionName'),
        duration: form.get('DurationSeconds')
      }
      state.stsCalls.push(call)
      const token = form.get('WebIdentityToken') ?? ''
      if (!state.secrets.includes(token))
        return stsError(
          res,
          400,
          'InvalidIdentityToken',
          "Couldn't retrieve verification key from your identity provider"
        )
      if (call.roleArn !== ROLE) {
        return stsError(res, 403, 'AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity')
      }
      const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`
      const secretAccessKey = randomBytes(30).toString('base64')
      const sessionToken = `FwoG${randomBytes(48).toString('base64')}`
      state.issuedKeys.add(accessKeyId)
      state.secrets.push(accessKeyId, secretAccessKey, sessionToken)
      const expiration = new Date(Date.now() + 3600_000).toISOString()
      return send(
        res,
        200,
        'text/xml',
        `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>${SUBJECT}</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::${ACCOUNT}:assumed-role/promoter/${call.sessionName}</Arn>
      <AssumedRoleId>AROAEXAMPLE:${call.sessionName}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${accessKeyId}</AccessKeyId>
      <SecretAccessKey>${secretAccessKey}</SecretAccessKey>
      <SessionToken>${sessionToken}</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
    <Provider>arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>${randomBytes(8).toString('hex')}</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`
      )
    }
    send(res, 400, 'text/plain', `unexpected request ${req.method} ${req.url}`)
  })
  const port = await new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(server.address().port))
  )
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    state,
    /** The environment a job with `permissions: id-token: write` has. */
    oidcEnv: {
      ACTIONS_ID_TOKEN_REQUEST_URL: `${url}/oidc?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken
    },
    endpointEnv: { AWS_ENDPOINT_URL_STS: url, AWS_ENDPOINT_URL_ECR: url, AWS_ENDPOINT_URL_ECR_PUBLIC: url },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'x-amzn-requestid': randomBytes(8).toString('hex') })
  res.end(body)
}

function stsError(res, status, code, message) {
  send(
    res,
    status,
    'text/xml',
    `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error>
  <RequestId>${randomBytes(8).toString('hex')}</RequestId>
</ErrorResponse>`
  )
}
