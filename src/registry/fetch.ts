// Reading from a registry: manifests (HEAD and GET) and blob streams.
import { header } from './auth.js'
import { digestOf, algorithmOf, verifyStream } from './digest.js'
import {
  DigestMismatchError,
  formatDetails,
  parseErrorBody,
  RegistryError,
  type RegistryErrorDetail
} from './errors.js'
import { DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED, MANIFEST_ACCEPT } from './media-types.js'
import { discard, repositoryScope, type RegistryClient, type Response } from './transport.js'

/** Registries refuse manifests over 4 MiB; so do we, rather than buffer an arbitrary body. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024

export interface ManifestHead {
  digest: string
  mediaType: string
  size: number
}

export interface Manifest {
  digest: string
  mediaType: string
  bytes: Buffer
}

/**
 * HEAD a manifest by tag or digest; undefined when absent. Does not count as a Docker Hub pull.
 * A 403 is absence too: Artifactory virtual repositories (and some proxies) answer a HEAD of what
 * does not exist with 403; a real refusal shows on the write that follows.
 */
export async function headManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
  scopes = [repositoryScope(repository, 'pull')],
  accept = MANIFEST_ACCEPT
): Promise<ManifestHead | undefined> {
  const response = await client.request({
    method: 'HEAD',
    url: `/v2/${repository}/manifests/${reference}`,
    scopes,
    headers: { accept },
    expect: [200],
    allow: [404, 403],
    what: `HEAD manifest ${repository}${reference.includes(':') ? '@' : ':'}${reference}`
  })
  await response.body.dump()
  if (response.status === 404 || response.status === 403) return undefined
  const digest = header(response.headers, 'docker-content-digest')
  const mediaType = contentType(response)
  const size = Number(header(response.headers, 'content-length') ?? NaN)
  if (!digest) {
    // Without the header the digest must come from the bytes themselves.
    const manifest = await getManifest(client, repository, reference, scopes, accept)
    return manifest && { digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.bytes.length }
  }
  return { digest, mediaType, size }
}

/** GET a manifest's exact bytes; verifies them against the digest asked for or announced. */
export async function getManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
  scopes = [repositoryScope(repository, 'pull')],
  accept = MANIFEST_ACCEPT,
  onHeaders?: (headers: Response['headers']) => void
): Promise<Manifest | undefined> {
  const result = await fetchManifest(client, repository, reference, scopes, accept, onHeaders)
  if ('missing' in result) {
    if (result.missing.some((d) => d.code === 'NAME_UNKNOWN')) {
      throw new RegistryError(
        `${result.what}: repository ${repository} does not exist (or these credentials cannot see it); ` +
          `the registry said: ${formatDetails(result.missing)}`,
        { status: 404, details: result.missing, retryable: false }
      )
    }
    return undefined
  }
  return result.manifest
}

/**
 * GET a manifest that must exist (the source). When it does not, the error says which is missing,
 * the tag or the whole repository (asked of the tag list, which is not a Docker Hub pull), in the
 * registry's own words.
 */
export async function requireManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
  scopes = [repositoryScope(repository, 'pull')]
): Promise<Manifest> {
  const result = await fetchManifest(client, repository, reference, scopes, MANIFEST_ACCEPT)
  if ('manifest' in result) return result.manifest
  const said = result.missing.length ? `; the registry said: ${formatDetails(result.missing)}` : ''
  const what = reference.includes(':') ? `manifest ${reference}` : `tag ${reference}`
  const listing = result.missing.some((d) => d.code === 'NAME_UNKNOWN')
    ? { absent: true, exists: false, details: [] }
    : await tagListAnswer(client, repository, scopes)
  const listed = listing.details.length ? `; its tag list: ${formatDetails(listing.details)}` : ''
  const message = listing.absent
    ? `repository ${repository} does not exist (or these credentials cannot see it)${said}${listed}`
    : `${what} not found in repository ${repository}${listing.exists ? ' (the repository exists)' : ''}${said}`
  throw new RegistryError(message, { status: 404, details: result.missing, retryable: false })
}

/** What the tag list says of the repository: unknown (with its words), there (a 200), or nothing. */
async function tagListAnswer(
  client: RegistryClient,
  repository: string,
  scopes: string[]
): Promise<{ absent: boolean; exists: boolean; details: RegistryErrorDetail[] }> {
  try {
    const response = await client.request({
      method: 'GET',
      url: `/v2/${repository}/tags/list?n=1`,
      scopes,
      expect: [200],
      allow: [404],
      what: `GET tags of ${repository}`
    })
    const text = await response.body.text()
    if (response.status !== 404) return { absent: false, exists: true, details: [] }
    const details = parseErrorBody(text)
    return {
      absent: details.length === 0 || details.some((d) => d.code === 'NAME_UNKNOWN'),
      exists: false,
      details
    }
  } catch {
    // Not allowed to list (ECR without ecr:ListImages), or not reachable: no evidence either way.
    return { absent: false, exists: false, details: [] }
  }
}

type FetchResult = { manifest: Manifest } | { missing: RegistryErrorDetail[]; what: string }

async function fetchManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
  scopes: string[],
  accept: string,
  onHeaders?: (headers: Response['headers']) => void
): Promise<FetchResult> {
  const what = `GET manifest ${repository}${reference.includes(':') ? '@' : ':'}${reference}`
  const response = await client.request({
    method: 'GET',
    url: `/v2/${repository}/manifests/${reference}`,
    scopes,
    headers: { accept },
    expect: [200],
    allow: [404],
    what
  })
  if (response.status === 404) {
    return { missing: parseErrorBody(await response.body.text().catch(() => '')), what }
  }
  onHeaders?.(response.headers)
  const declared = Number(header(response.headers, 'content-length') ?? 0)
  if (declared > MAX_MANIFEST_BYTES) {
    discard(response.body)
    throw new RegistryError(
      `${what}: manifest of ${declared} bytes exceeds the ${MAX_MANIFEST_BYTES}-byte limit`,
      {
        retryable: false
      }
    )
  }
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of response.body) {
    length += (chunk as Buffer).length
    if (length > MAX_MANIFEST_BYTES) {
      discard(response.body)
      throw new RegistryError(`${what}: manifest exceeds the ${MAX_MANIFEST_BYTES}-byte limit`, {
        retryable: false
      })
    }
    chunks.push(chunk as Buffer)
  }
  const bytes = Buffer.concat(chunks)
  const mediaType = mediaTypeField(bytes) || contentType(response)
  if (mediaType === DOCKER_SCHEMA1 || mediaType === DOCKER_SCHEMA1_SIGNED) {
    throw new RegistryError(
      `${what}: Docker schema 1 manifests are deprecated and cannot be copied by digest; rebuild the image`,
      { retryable: false }
    )
  }
  const isDigest = /^sha(256|512):/.test(reference)
  const announced = header(response.headers, 'docker-content-digest')
  const expected = isDigest ? reference : announced
  const digest = digestOf(bytes, expected ? algorithmOf(expected) : 'sha256')
  if (expected && digest !== expected) {
    throw new DigestMismatchError(`${what}: manifest bytes hash to ${digest}, expected ${expected}`)
  }
  return { manifest: { digest, mediaType, bytes } }
}

/** GET a blob; the stream follows redirects (without credentials off-origin). */
export async function getBlob(client: RegistryClient, repository: string, digest: string): Promise<Response> {
  return client.request({
    method: 'GET',
    url: `/v2/${repository}/blobs/${digest}`,
    scopes: [repositoryScope(repository, 'pull')],
    expect: [200],
    what: `GET blob ${digest}`
  })
}

function contentType(response: Response): string {
  return (header(response.headers, 'content-type') ?? '').split(';')[0].trim()
}

function mediaTypeField(bytes: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }
    return typeof parsed.mediaType === 'string' ? parsed.mediaType : undefined
  } catch {
    return undefined
  }
}

/**
 * A small blob (a config, a signature payload) read whole, each byte checked against its
 * descriptor's size and digest as it streams; the caller bounds the size first.
 */
export async function readBlobBytes(
  client: RegistryClient,
  repository: string,
  descriptor: { digest: string; size: number },
  what = `blob ${descriptor.digest}`
): Promise<Buffer> {
  const response = await getBlob(client, repository, descriptor.digest)
  const chunks: Uint8Array[] = []
  for await (const chunk of verifyStream(response.body, descriptor, what)) chunks.push(chunk)
  return Buffer.concat(chunks)
}
