// The Docker Hub OIDC exchange against a local stand-in of the identity service: the exact request,
// each refusal in words that say what to fix (the token's sub, never the token), 429 retried.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { Agent } from 'undici'
import { exchangeDockerHubToken, exchangeForm, subjectOf } from '../src/promotion/dockerhub-oidc.js'

const dispatcher = new Agent()
let answer: (req: IncomingMessage, res: ServerResponse, form: URLSearchParams) => void
const seen: { form: URLSearchParams; contentType?: string }[] = []
let endpoint = ''
const server = createServer(async (req, res) => {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const form = new URLSearchParams(Buffer.concat(chunks).toString())
  seen.push({ form, contentType: req.headers['content-type'] })
  answer(req, res, form)
})
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`
})
afterAll(async () => {
  await new Promise((r) => server.close(r))
  await dispatcher.close()
})

const jwt = (claims: Record<string, unknown>) =>
  `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`
const ID_TOKEN = jwt({ sub: 'repo:acme/app:ref:refs/heads/main', aud: 'https://identity.docker.com' })
const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

function exchange(extra: Partial<Parameters<typeof exchangeDockerHubToken>[0]> = {}) {
  const secrets: string[] = []
  const audiences: string[] = []
  const done = exchangeDockerHubToken({
    connectionId: '0f8fad5b-d9cb-469f-a165-70867728950e',
    organisation: 'acme',
    getIdToken: async (audience) => (audiences.push(audience), ID_TOKEN),
    dispatcher,
    endpoint,
    onSecret: (s) => secrets.push(s),
    sleep: async () => undefined,
    ...extra
  })
  return { done, secrets, audiences }
}

describe('exchangeDockerHubToken', () => {
  test('posts the RFC 8693 form and logs in as the organisation with the access token', async () => {
    seen.length = 0
    answer = (_req, res) =>
      json(res, 200, { access_token: 'dckr_oat_abc', token_type: 'Bearer', expires_in: 3600 })
    const { done, secrets, audiences } = exchange()
    expect(await done).toEqual({ username: 'acme', password: 'dckr_oat_abc' })
    expect(audiences).toEqual(['https://identity.docker.com'])
    expect(secrets).toEqual([ID_TOKEN, 'dckr_oat_abc'])
    expect(seen[0].contentType).toBe('application/x-www-form-urlencoded')
    expect(Object.fromEntries(seen[0].form)).toEqual({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      subject_token: ID_TOKEN,
      connection_id: '0f8fad5b-d9cb-469f-a165-70867728950e',
      expires_in: '3600'
    })
  })

  test('429 is retried after Retry-After', async () => {
    let calls = 0
    answer = (_req, res) =>
      ++calls < 3
        ? json(res, 429, { error: 'slow_down' }, { 'retry-after': '1' })
        : json(res, 200, { access_token: 't' })
    const waits: number[] = []
    const { done } = exchange({ sleep: async (ms) => void waits.push(ms) })
    expect((await done).password).toBe('t')
    expect(waits).toEqual([1000, 1000])
  })

  test.each([
    [
      400,
      { error: 'invalid_request', error_description: 'connection not found' },
      'no OIDC connection 0f8fad5b-d9cb-469f-a165-70867728950e is known'
    ],
    [
      403,
      { error: 'access_denied', error_description: 'the subject does not match any ruleset' },
      "the connection's rulesets do not match this workflow's token (sub: repo:acme/app:ref:refs/heads/main)"
    ],
    [
      400,
      {
        error: 'invalid_grant',
        error_description: 'connections belong to organizations, not personal accounts'
      },
      'OIDC connections are for Docker Hub organisations, not personal accounts'
    ]
  ])('a %i refusal says what to fix', async (status, body, fix) => {
    answer = (_req, res) => json(res, status, body)
    const { done } = exchange()
    const error = (await done.catch((e: unknown) => e)) as Error
    expect(error.message).toContain(fix)
    expect(error.message).not.toContain(ID_TOKEN)
  })

  test('no OIDC token (no id-token: write) says so, before any exchange', async () => {
    seen.length = 0
    const { done } = exchange({
      getIdToken: () => Promise.reject(new Error('Unable to get ACTIONS_ID_TOKEN_REQUEST_URL env variable'))
    })
    await expect(done).rejects.toThrow('give the job "permissions: id-token: write"')
    expect(seen).toEqual([])
  })
})

test('exchangeForm and subjectOf', () => {
  expect(exchangeForm('t', 'c', 300)).toBe(
    'grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token&subject_token=t&connection_id=c&expires_in=300'
  )
  expect(subjectOf(ID_TOKEN)).toBe('repo:acme/app:ref:refs/heads/main')
  expect(subjectOf('not a jwt')).toBe('unknown')
})
