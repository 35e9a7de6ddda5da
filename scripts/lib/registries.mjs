// Real registries for tests, the demo and the benchmark: CNCF distribution (`docker-registry`)
// processes on 127.0.0.1, plain, with htpasswd basic auth, or with token auth backed by a small
// token server of our own (the scheme Docker Hub uses).
import { spawn, execFileSync } from 'node:child_process'
import { createHash, generateKeyPairSync, createSign, randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync, rmSync, existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { Agent, request } from 'undici'
import { createServer as createNetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Test users. Their bcrypt hashes were made with `htpasswd -nbB`; the passwords are test-only. */
export const USERS = {
  promoter: {
    password: 'hunter2-Promoter-Pa55',
    bcrypt: '$2y$05$S0SbjWhzh2F9QaCfhwxHquxGWcIc7vm1/6KDKrKdvUhXJdZm4bzzO',
    actions: ['pull', 'push']
  },
  reader: {
    password: 'reader-Pa55-only',
    bcrypt: '$2y$05$7SX5GPLExXSiOds7hSJ6xuPhNoJRJT5ciJv9kjbzO0Fg1dN0p4idS',
    actions: ['pull']
  }
}

export const INSTALL_HINT = 'sudo apt-get update && sudo apt-get install -y docker-registry'

/** The path of docker-registry, or an Error that says how to install it. */
export function findRegistryBinary() {
  for (const candidate of [
    process.env.DOCKER_REGISTRY_BIN,
    '/usr/bin/docker-registry',
    '/usr/local/bin/docker-registry'
  ]) {
    if (candidate && existsSync(candidate)) return candidate
  }
  try {
    return execFileSync('sh', ['-c', 'command -v docker-registry'], { encoding: 'utf8' }).trim()
  } catch {
    throw new Error(`docker-registry (CNCF distribution) is not installed; install it with: ${INSTALL_HINT}`)
  }
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createNetServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/**
 * Starts one registry. Returns { host, url, auth, tokenServer?, authHeader(repository, actions?), stop() }.
 * With `tls` the registry (and its token server) serve HTTPS; `tokenRealm` and `tokenService` set the
 * names clients see (e.g. https://auth.docker.io/token and registry.docker.io behind a test proxy).
 * @param {{
 *   auth?: 'none' | 'basic' | 'token', tokenTtlSeconds?: number, advertisedTtlSeconds?: number, name?: string,
 *   tls?: { certPath: string, keyPath: string, ca: string }, tokenRealm?: string, tokenService?: string,
 *   users?: Record<string, { password: string, bcrypt: string, actions: string[] }>, accessLog?: boolean,
 *   grants?: (user: string, repository: string) => string[], manifestUrlsAllow?: string[]
 * }} [options]
 * `grants` (token auth) decides per repository what the token server grants a user ('anonymous' for
 * callers without credentials), as GHCR and Harbor do; without it a user gets its `actions` everywhere.
 * `manifestUrlsAllow`: regular expressions for `validation.manifests.urls.allow`, so the registry
 * accepts manifests whose layers carry `urls` (foreign layers); without it such manifests are refused.
 */
export async function startRegistry({
  auth = 'none',
  tokenTtlSeconds = 300,
  advertisedTtlSeconds,
  name = auth,
  tls = undefined,
  tokenRealm = undefined,
  tokenService = undefined,
  users = USERS,
  accessLog = false,
  grants = undefined,
  manifestUrlsAllow = undefined
} = {}) {
  const binary = findRegistryBinary()
  const dir = mkdtempSync(join(tmpdir(), `ecr-promote-${name}-`))
  const port = await freePort()
  const host = `127.0.0.1:${port}`
  let tokenServer
  let authSection = ''
  if (auth === 'basic') {
    const htpasswd = join(dir, 'htpasswd')
    writeFileSync(
      htpasswd,
      Object.entries(users)
        .map(([user, u]) => `${user}:${u.bcrypt}`)
        .join('\n') + '\n'
    )
    authSection = `auth:\n  htpasswd:\n    realm: ecr-promote-test\n    path: ${htpasswd}\n`
  } else if (auth === 'token') {
    tokenServer = await startTokenServer({
      dir,
      service: tokenService ?? `registry-${port}`,
      ttlSeconds: tokenTtlSeconds,
      advertisedTtlSeconds,
      tls,
      users,
      grants
    })
    const realm = tokenRealm ?? `${tokenServer.url}/token`
    authSection =
      `auth:\n  token:\n    realm: ${realm}\n    service: ${tokenServer.service}\n` +
      `    issuer: ${tokenServer.issuer}\n    rootcertbundle: ${tokenServer.certPath}\n`
  }
  const config = join(dir, 'config.yml')
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      `    disabled: ${!accessLog}`,
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      `  addr: ${host}`,
      `  secret: ${randomUUID()}`,
      ...(tls ? ['  tls:', `    certificate: ${tls.certPath}`, `    key: ${tls.keyPath}`] : []),
      ...(manifestUrlsAllow
        ? [
            'validation:',
            '  manifests:',
            '    urls:',
            '      allow:',
            ...manifestUrlsAllow.map((r) => `        - '${r.replaceAll("'", "''")}'`)
          ]
        : []),
      authSection
    ].join('\n')
  )
  // The access log (one line per request) goes to stdout; counting its lines counts requests.
  let requests = 0
  const child = spawn(binary, ['serve', config], { stdio: ['ignore', accessLog ? 'pipe' : 'ignore', 'pipe'] })
  child.stdout?.on('data', (d) => {
    for (const byte of d) if (byte === 10) requests++
  })
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr = (stderr + d.toString()).slice(-4000)
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const url = `${tls ? 'https' : 'http'}://${host}`
  // Fixtures talk to the registry directly (not through a test proxy), trusting the test CA.
  const dispatcher = new Agent({ pipelining: 0, connect: tls ? { ca: tls.ca } : undefined })
  await waitForHttp(`${url}/v2/`, child, () => stderr, dispatcher)

  const registry = {
    host,
    url,
    auth,
    dir,
    tokenServer,
    dispatcher,
    process: child,
    /** Requests served so far (with `accessLog`). */
    requestCount: () => requests,
    /** An Authorization header value with push rights, for seeding and inspecting. */
    async authHeader(repository, actions = 'pull,push') {
      const [user, entry] = Object.entries(users).find(([, u]) => u.actions.includes('push'))
      if (auth === 'basic') return basic(user, entry.password)
      if (auth === 'token') {
        const access = [{ type: 'repository', name: repository, actions: actions.split(',') }]
        return `Bearer ${tokenServer.issue(user, access)}`
      }
      return undefined
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        let timer
        await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 3000)))])
        clearTimeout(timer)
        if (child.exitCode === null) child.kill('SIGKILL')
      }
      await tokenServer?.stop()
      await dispatcher.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
  return registry
}

async function waitForHttp(url, child, stderr, dispatcher) {
  const deadline = Date.now() + 15000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${stderr()}`)
    try {
      const res = await request(url, { dispatcher })
      await res.body.dump()
      return
    } catch {
      if (Date.now() > deadline) throw new Error(`docker-registry did not answer at ${url}: ${stderr()}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

export function basic(user, password) {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
}

/** The libtrust key id distribution expects in a token's `kid` header. */
function libtrustKeyId(publicKey) {
  const der = publicKey.export({ type: 'spki', format: 'der' })
  const hash = createHash('sha256').update(der).digest().subarray(0, 30)
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0
  let value = 0
  let out = ''
  for (const byte of hash) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  return out.match(/.{4}/g).join(':')
}

/**
 * A token server: GET /token?service=&scope=... with optional Basic credentials, answering
 * {token, access_token, expires_in, issued_at} like auth.docker.io. Anonymous callers and `reader`
 * get pull only; `promoter` gets what it asks for. It counts requests and keeps a log of them.
 * `grants(user, repository)`, when given, returns the actions granted on each repository instead.
 */
export async function startTokenServer({
  dir,
  service,
  ttlSeconds = 300,
  advertisedTtlSeconds = undefined,
  tls = undefined,
  users = USERS,
  grants = undefined
}) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const keyPath = join(dir, 'token-key.pem')
  const certPath = join(dir, 'token-cert.pem')
  writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }))
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-new',
      '-key',
      keyPath,
      '-out',
      certPath,
      '-days',
      '2',
      '-subj',
      '/CN=ecr-promote-test-token'
    ],
    {
      stdio: 'ignore'
    }
  )
  const kid = libtrustKeyId(publicKey)
  const issuer = 'ecr-promote-test-issuer'
  // advertisedTtlSeconds lets a test announce a longer life than the token really has.
  const state = { requests: [], issued: [], ttlSeconds, advertisedTtlSeconds }

  const issue = (subject, access) => {
    const now = Math.floor(Date.now() / 1000)
    const header = { alg: 'RS256', typ: 'JWT', kid }
    const claims = {
      iss: issuer,
      sub: subject,
      aud: service,
      exp: now + state.ttlSeconds,
      nbf: now - 5,
      iat: now,
      jti: randomUUID(),
      access
    }
    const encode = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const unsigned = `${encode(header)}.${encode(claims)}`
    const signature = createSign('RSA-SHA256').update(unsigned).sign(privateKey).toString('base64url')
    const token = `${unsigned}.${signature}`
    state.issued.push(token)
    return token
  }

  const handler = (req, res) => {
    const url = new URL(req.url, 'http://localhost')
    if (url.pathname !== '/token') {
      res.writeHead(404).end()
      return
    }
    let user = 'anonymous'
    const authz = req.headers.authorization
    if (authz) {
      const [scheme, value] = authz.split(' ')
      const [name, ...rest] = Buffer.from(value ?? '', 'base64')
        .toString('utf8')
        .split(':')
      const known = users[name]
      // `uses`: a short-lived password (an exchanged access token) that expires after so many uses.
      const expired = known?.uses !== undefined && known.uses-- <= 0
      if (scheme !== 'Basic' || !known || known.password !== rest.join(':') || expired) {
        state.requests.push({ user: name, scopes: url.searchParams.getAll('scope'), denied: true })
        res.writeHead(401, { 'content-type': 'application/json' })
        res.end(
          JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] })
        )
        return
      }
      user = name
    }
    const allowed = user === 'anonymous' ? ['pull'] : users[user].actions
    const scopes = url.searchParams.getAll('scope')
    state.requests.push({ user, scopes })
    const access = scopes
      .map((scope) => {
        const [type, ...rest] = scope.split(':')
        const actions = rest.pop().split(',')
        const name = rest.join(':')
        const permitted = grants ? (grants(user, name) ?? []) : allowed
        return { type, name, actions: actions.filter((a) => permitted.includes(a)) }
      })
      .filter((a) => a.actions.length > 0)
    const token = issue(user, access)
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({
        token,
        access_token: token,
        expires_in: state.advertisedTtlSeconds ?? state.ttlSeconds,
        issued_at: new Date().toISOString()
      })
    )
  }
  const server = tls
    ? createHttpsServer({ cert: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) }, handler)
    : createServer(handler)
  const port = await new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(server.address().port))
  )
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    service,
    issuer,
    certPath,
    state,
    issue,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
