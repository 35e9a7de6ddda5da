// Plumbing for the registry-behaviour tests: running a promotion, and the small pieces the fronts
// (forwarders answering as Artifactory, ECR, Nexus or GHCR would) are built from.
import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Agent, request } from 'undici'
import { promote, type PromoteResult } from '../../src/promotion/promote.js'
import { inputsFrom, recordingReporter } from './helpers.js'

export type RunResult = PromoteResult & { log: string[] }

/** Options beyond the reporter (e.g. `network`), typed loosely so they compile before the engine has them. */
export async function run(
  values: Record<string, string | undefined>,
  extra: Record<string, unknown> = {}
): Promise<RunResult> {
  const reporter = recordingReporter()
  const options = { reporter, ...extra } as Parameters<typeof promote>[1]
  const result = await promote(inputsFrom(values), options)
  return { ...result, log: reporter.lines }
}

/** The error a promotion failed with (the test fails when it succeeds), and what it logged. */
export async function failure(
  values: Record<string, string | undefined>,
  extra: Record<string, unknown> = {}
): Promise<{ message: string; log: string[] }> {
  const reporter = recordingReporter()
  const options = { reporter, ...extra } as Parameters<typeof promote>[1]
  try {
    const result = await promote(inputsFrom(values), options)
    throw new Error(`expected the promotion to fail; it answered ${result.result} (${result.digest})`)
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('expected the promotion to fail')) throw error
    return { message: error instanceof Error ? error.message : String(error), log: reporter.lines }
  }
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
}

/** A manifest as JSON bytes, with its digest and media type. */
export function manifestOf(document: { mediaType: string } & Record<string, unknown>): {
  mediaType: string
  bytes: Buffer
  digest: string
} {
  const bytes = Buffer.from(JSON.stringify(document))
  return { mediaType: document.mediaType, bytes, digest: sha256(bytes) }
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** `/v2/<name>/manifests/<reference>` split up; undefined for any other path. */
export function manifestPath(url: string | undefined): { name: string; reference: string } | undefined {
  const match = /^\/v2\/(.+)\/manifests\/([^/?]+)$/.exec((url ?? '').split('?')[0])
  return match ? { name: match[1], reference: match[2] } : undefined
}

/** Answers a HEAD or GET of a manifest the front holds, as distribution does. */
export function serveManifest(
  req: IncomingMessage,
  res: ServerResponse,
  manifest: { bytes: Buffer; mediaType: string }
): void {
  req.resume()
  res.writeHead(200, {
    'content-type': manifest.mediaType,
    'content-length': String(manifest.bytes.length),
    'docker-content-digest': sha256(manifest.bytes),
    'docker-distribution-api-version': 'registry/2.0'
  })
  res.end(req.method === 'HEAD' ? undefined : manifest.bytes)
}

/** An OCI error answer: `{"errors":[{"code","message"}]}` (no body to a HEAD). */
export function answerError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {}
): void {
  req.resume()
  const body = JSON.stringify({ errors: [{ code, message }] })
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    ...headers
  })
  res.end(req.method === 'HEAD' ? undefined : body)
}

const upstreamAgent = new Agent({ pipelining: 0 })

/** What the registry behind a front answers a HEAD of `path` (a front checking before it answers). */
export async function upstreamHead(
  baseUrl: string,
  path: string,
  headers: Record<string, string> = {}
): Promise<{ status: number; digest?: string }> {
  const res = await request(`${baseUrl}${path}`, { method: 'HEAD', headers, dispatcher: upstreamAgent })
  await res.body.dump()
  const digest = res.headers['docker-content-digest']
  return { status: res.statusCode, digest: typeof digest === 'string' ? digest : undefined }
}

export async function closeUpstreamAgent(): Promise<void> {
  await upstreamAgent.close()
}

type Held = { bytes: Buffer; mediaType: string }
type Intercept = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>

/**
 * An intercept serving these manifests of `repository` from memory (by tag or digest), as a registry
 * that knows media types distribution refuses would; anything else goes through.
 */
export function servesManifests(repository: string, manifests: Record<string, Held>): Intercept {
  return (req, res) => {
    const m = manifestPath(req.url)
    const served = m && m.name === repository ? manifests[m.reference] : undefined
    if (!served || (req.method !== 'GET' && req.method !== 'HEAD')) return false
    serveManifest(req, res, served)
    return true
  }
}

/**
 * An intercept that takes PUT, HEAD and GET of these references of `repository` into memory (so
 * distribution never sees them) and records each PUT; anything else goes through.
 */
export function holdsManifests(
  repository: string,
  references: string[]
): { intercept: Intercept; puts: { reference: string; bytes: Buffer; contentType?: string }[] } {
  const held = new Map<string, Held>()
  const puts: { reference: string; bytes: Buffer; contentType?: string }[] = []
  const intercept: Intercept = async (req, res) => {
    const m = manifestPath(req.url)
    if (!m || m.name !== repository || !references.includes(m.reference)) return false
    if (req.method === 'PUT') {
      const bytes = await readBody(req)
      const contentType = req.headers['content-type']
      const digest = sha256(bytes)
      puts.push({ reference: m.reference, bytes, contentType })
      for (const key of [m.reference, digest]) held.set(key, { bytes, mediaType: contentType ?? '' })
      res.writeHead(201, {
        location: `/v2/${repository}/manifests/${digest}`,
        'docker-content-digest': digest,
        'content-length': '0'
      })
      res.end()
      return true
    }
    const stored = held.get(m.reference)
    if (stored) serveManifest(req, res, stored)
    else answerError(req, res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown')
    return true
  }
  return { intercept, puts }
}

/** The GETs of one blob a front saw, with the headers they came with. */
export function blobGets(
  log: { method: string; url: string; headers: Record<string, unknown>; at: number }[],
  digest: string
): { url: string; range?: string; at: number }[] {
  return log
    .filter((r) => r.method === 'GET' && r.url.endsWith(`/blobs/${digest}`))
    .map((r) => ({ url: r.url, range: r.headers.range as string | undefined, at: r.at }))
}
