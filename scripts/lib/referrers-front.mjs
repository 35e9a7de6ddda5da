// A front that makes a real registry (distribution 2.8, which has no referrers API) answer as a
// registry WITH the OCI 1.1 referrers API, as ECR has since 2024-06: manifest PUTs with a `subject`
// are recorded and answered with `OCI-Subject`, and `GET /v2/<name>/referrers/<digest>` lists what
// was recorded. Everything else goes through untouched (so basic and token auth work through it).
// It records only what it saw: a manifest pushed to the registry directly is invisible, as it
// would be in reality.
//   mode 'api'            the referrers API (paging with `pageSize`, `?artifactType=` with `filter`)
//   mode 'announce-only'  `OCI-Subject` on PUT, but the referrers URL answers 404 text/plain, as
//                         Docker Hub did in 2024 and ECR before 2024-06
import { createHash } from 'node:crypto'
import { Agent, request } from 'undici'
import { startForwarder } from './proxy.mjs'

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
const HOP_BY_HOP = [
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'expect',
  'upgrade'
]

const sha256 = (bytes) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`

async function readBody(req) {
  const chunks = []
  for await (const chunk of req) chunks.push(chunk)
  return Buffer.concat(chunks)
}

function answer(req, res, status, headers, body = '') {
  const bytes = Buffer.from(body)
  res.writeHead(status, { ...headers, 'content-length': String(bytes.length) })
  res.end(req.method === 'HEAD' ? undefined : bytes)
}

function answerError(req, res, status, code, message) {
  const body = JSON.stringify({ errors: [{ code, message }] })
  answer(req, res, status, { 'content-type': 'application/json; charset=utf-8' }, body)
}

/**
 * @param {{ url: string, host: string, authHeader: (repository: string, actions?: string) => Promise<string | undefined> }} registry
 * @param {{ mode?: 'api' | 'announce-only', pageSize?: number, filter?: boolean }} [options]
 */
export async function startReferrersFront(
  registry,
  { mode = 'api', pageSize = undefined, filter = true } = {}
) {
  if (!['api', 'announce-only'].includes(mode)) throw new Error(`referrers front: unknown mode ${mode}`)
  // The forwarder speaks plain HTTP to its target.
  if (!registry.url.startsWith('http://')) throw new Error('referrers front: plain-HTTP registries only')
  const upstream = new Agent({ pipelining: 0 })
  /** repository -> subject digest -> descriptors, in the order they were pushed */
  const records = new Map()
  /** repositories that took a manifest through the front */
  const known = new Set()

  const listOf = (repository, subject) => {
    if (!records.has(repository)) records.set(repository, new Map())
    const bySubject = records.get(repository)
    if (!bySubject.has(subject)) bySubject.set(subject, [])
    return bySubject.get(subject)
  }

  /** Sends the request (with `body`) to the registry ourselves, so we can read its answer. */
  const forward = async (req, body) => {
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([name]) => !HOP_BY_HOP.includes(name))
    )
    const res = await request(`${registry.url}${req.url}`, {
      method: req.method,
      headers,
      body,
      dispatcher: upstream
    })
    const bytes = Buffer.from(await res.body.arrayBuffer())
    const out = Object.fromEntries(
      Object.entries(res.headers).filter(([name]) => !HOP_BY_HOP.includes(name) || name === 'content-length')
    )
    if (typeof out.location === 'string')
      out.location = out.location.replace(registry.url, `http://${req.headers.host}`)
    return { status: res.statusCode, headers: out, bytes }
  }

  const onManifestPut = async (req, res, name) => {
    const body = await readBody(req)
    const sent = await forward(req, body)
    if (sent.status === 201) {
      known.add(name)
      let manifest
      try {
        manifest = JSON.parse(body.toString('utf8'))
      } catch {
        manifest = undefined
      }
      const subject = manifest?.subject?.digest
      if (typeof subject === 'string') {
        const digest = sha256(body)
        const artifactType = manifest.artifactType ?? manifest.config?.mediaType
        const descriptor = {
          mediaType: manifest.mediaType ?? req.headers['content-type'],
          digest,
          size: body.length,
          ...(artifactType ? { artifactType } : {}),
          ...(manifest.annotations ? { annotations: manifest.annotations } : {})
        }
        const list = listOf(name, subject)
        if (!list.some((d) => d.digest === digest)) list.push(descriptor)
        sent.headers['oci-subject'] = subject
      }
    }
    res.writeHead(sent.status, { ...sent.headers, 'content-length': String(sent.bytes.length) })
    res.end(sent.bytes)
  }

  const onManifestDelete = async (req, res, name, reference) => {
    const sent = await forward(req, undefined)
    if (sent.status === 202) {
      for (const list of records.get(name)?.values() ?? []) {
        const at = list.findIndex((d) => d.digest === reference)
        if (at >= 0) list.splice(at, 1)
      }
    }
    res.writeHead(sent.status, sent.headers)
    res.end(sent.bytes)
  }

  /** Is the repository there, and may this caller read it? Asks the registry (a tags list) with the caller's credentials. */
  const checkRepository = async (req, name) => {
    const headers = req.headers.authorization ? { authorization: req.headers.authorization } : {}
    const res = await request(`${registry.url}/v2/${name}/tags/list`, { headers, dispatcher: upstream })
    const text = await res.body.text()
    if (res.statusCode === 200 || (res.statusCode === 404 && known.has(name))) return undefined
    const relay = Object.fromEntries(
      ['content-type', 'www-authenticate', 'docker-distribution-api-version']
        .filter((h) => res.headers[h])
        .map((h) => [h, res.headers[h]])
    )
    return { status: res.statusCode, headers: relay, text }
  }

  const onReferrers = async (req, res, name, digest, query) => {
    req.resume()
    if (mode === 'announce-only') {
      answer(
        req,
        res,
        404,
        { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
        '404 page not found\n'
      )
      return
    }
    const refused = await checkRepository(req, name)
    if (refused) return answer(req, res, refused.status, refused.headers, refused.text)
    if (!/^sha256:[0-9a-f]{64}$/.test(digest))
      return answerError(req, res, 400, 'DIGEST_INVALID', 'invalid digest')
    let list = [...(records.get(name)?.get(digest) ?? [])]
    const headers = { 'content-type': OCI_INDEX, 'docker-distribution-api-version': 'registry/2.0' }
    const wanted = query.getAll('artifactType')
    if (filter && wanted.length > 0) {
      list = list.filter((d) => wanted.includes(d.artifactType))
      headers['oci-filters-applied'] = 'artifactType'
    }
    if (pageSize) {
      const n = Math.min(pageSize, Number(query.get('n')) || pageSize)
      const last = query.get('last')
      const from = last ? list.findIndex((d) => d.digest === last) + 1 : 0
      const page = list.slice(from, from + n)
      if (from + n < list.length) {
        const next = new URLSearchParams(query)
        next.set('n', String(n))
        next.set('last', page[page.length - 1].digest)
        headers.link = `</v2/${name}/referrers/${digest}?${next}>; rel="next"`
      }
      list = page
    }
    answer(
      req,
      res,
      200,
      headers,
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: list })
    )
  }

  const intercept = async (req, res) => {
    const [path, search = ''] = (req.url ?? '').split('?')
    const referrers = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(path)
    if (referrers && (req.method === 'GET' || req.method === 'HEAD')) {
      await onReferrers(req, res, referrers[1], decodeURIComponent(referrers[2]), new URLSearchParams(search))
      return true
    }
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path)
    if (manifest && req.method === 'PUT') {
      await onManifestPut(req, res, manifest[1])
      return true
    }
    if (manifest && req.method === 'DELETE') {
      await onManifestDelete(req, res, manifest[1], decodeURIComponent(manifest[2]))
      return true
    }
    return false
  }

  const forwarder = await startForwarder(registry.url, async (req, res) => {
    try {
      return await intercept(req, res)
    } catch (error) {
      if (!res.headersSent) answerError(req, res, 502, 'UNKNOWN', `referrers front: ${error.message}`)
      else res.destroy()
      return true
    }
  })
  return {
    host: forwarder.host,
    url: forwarder.url,
    mode,
    registry,
    /** Every request the front received. */
    seen: forwarder.seen,
    /** Credentials for fixtures going through the front: the registry's own. */
    authHeader: (repository, actions) => registry.authHeader(repository, actions),
    /** Descriptors recorded for `digest` in `repository` (a copy), in push order. */
    referrersOf: (repository, digest) => [...(records.get(repository)?.get(digest) ?? [])],
    async stop() {
      await forwarder.stop()
      await upstream.close()
    }
  }
}
