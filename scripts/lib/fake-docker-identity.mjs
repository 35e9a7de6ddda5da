// A stand-in for Docker's identity service (identity.docker.com), which cannot run here: the RFC 8693
// token exchange of an organisation's OIDC connection, POST /oauth/token with a form, answering
// {access_token, token_type, expires_in} or {error, error_description}. Each access token it issues
// is added to `users` under the organisation's name, so a token server sharing that object accepts
// it as the organisation's password; `usesPerToken` makes tokens expire after that many uses there.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:https'

/**
 * @param {{ tls: { certPath: string, keyPath: string }, connectionId: string, organisation: string,
 *   users: Record<string, any>, subjectPattern?: RegExp, usesPerToken?: number }} options
 */
export async function startFakeDockerIdentity({
  tls,
  connectionId,
  organisation,
  users,
  subjectPattern = /^repo:acme\//,
  usesPerToken
}) {
  const state = { requests: [], issued: [], idTokens: [] }
  const server = createServer(
    { cert: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) },
    async (req, res) => {
      const chunks = []
      for await (const chunk of req) chunks.push(chunk)
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')))
      state.requests.push({
        method: req.method,
        path: req.url,
        contentType: req.headers['content-type'],
        form: { ...form, subject_token: form.subject_token ? '<id token>' : undefined }
      })
      const answer = (status, body) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      }
      if (req.method !== 'POST' || req.url !== '/oauth/token') return answer(404, { error: 'not_found' })
      if (form.subject_token) state.idTokens.push(form.subject_token)
      if (
        form.grant_type !== 'urn:ietf:params:oauth:grant-type:token-exchange' ||
        form.subject_token_type !== 'urn:ietf:params:oauth:token-type:id_token' ||
        !form.subject_token
      ) {
        return answer(400, {
          error: 'invalid_request',
          error_description: 'malformed token exchange request'
        })
      }
      if (form.connection_id !== connectionId) {
        return answer(400, { error: 'invalid_request', error_description: 'connection not found' })
      }
      let claims = {}
      try {
        claims = JSON.parse(Buffer.from(form.subject_token.split('.')[1], 'base64url').toString('utf8'))
      } catch {
        return answer(400, { error: 'invalid_grant', error_description: 'subject token is not a JWT' })
      }
      if (claims.aud !== 'https://identity.docker.com' || !subjectPattern.test(claims.sub ?? '')) {
        return answer(403, {
          error: 'access_denied',
          error_description: 'the subject does not match any ruleset of this connection'
        })
      }
      const lifetime = Number(form.expires_in)
      if (!(lifetime >= 1 && lifetime <= 3600)) {
        return answer(400, {
          error: 'invalid_request',
          error_description: 'expires_in must be between 300 and 3600'
        })
      }
      const token = `dckr_oat_${randomBytes(18).toString('base64url')}`
      state.issued.push(token)
      users[organisation] = { password: token, actions: ['pull', 'push'], uses: usesPerToken }
      answer(200, {
        access_token: token,
        token_type: 'Bearer',
        issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        expires_in: lifetime
      })
    }
  )
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return {
    host: `127.0.0.1:${port}`,
    state,
    stop: () => new Promise((resolve) => server.close(resolve))
  }
}
