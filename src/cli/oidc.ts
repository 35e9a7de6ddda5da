// The GitHub Actions OIDC token, fetched as @actions/core does (the CLI does not load @actions/*):
// GET ACTIONS_ID_TOKEN_REQUEST_URL&audience=… with the runner's request token.
import { request, type Dispatcher } from 'undici'

export async function fetchGithubIdToken(
  audience: string,
  env: NodeJS.ProcessEnv,
  dispatcher: Dispatcher
): Promise<string> {
  const base = env.ACTIONS_ID_TOKEN_REQUEST_URL
  const bearer = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN
  if (!base || !bearer) {
    throw new Error(
      'no OIDC token source: ACTIONS_ID_TOKEN_REQUEST_URL is not set (add "permissions: id-token: write")'
    )
  }
  const url = new URL(base)
  url.searchParams.set('audience', audience)
  const response = await request(url, {
    headers: { authorization: `Bearer ${bearer}`, accept: 'application/json', 'user-agent': 'ecr-promote' },
    dispatcher
  })
  const text = await response.body.text()
  if (response.statusCode !== 200) {
    throw new Error(`the GitHub OIDC endpoint answered ${response.statusCode}`)
  }
  const value = (JSON.parse(text) as { value?: unknown }).value
  if (typeof value !== 'string' || !value)
    throw new Error('the GitHub OIDC endpoint answered without a token')
  return value
}
