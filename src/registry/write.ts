// Writing to a registry: blob existence, cross-repository mount, uploads, manifests.
import { header } from './auth.js'
import { RegistryError } from './errors.js'
import { withRetry } from './retry.js'
import { repositoryScope, type Body, type RegistryClient } from './transport.js'

export interface BlobTarget {
  repository: string
  digest: string
  size: number
}

export type PushAccess = 'granted' | 'denied' | 'unknown'

/**
 * Whether the registry's token grants push on `repository`, read from the token's own `access`
 * claim; `unknown` for Basic auth, anonymous access or opaque tokens.
 */
export async function pushAccess(client: RegistryClient, repository: string): Promise<PushAccess> {
  const challenge = await client.auth.ping()
  if (!challenge || challenge.scheme !== 'bearer') return 'unknown'
  const token = await client.auth.token(challenge, [repositoryScope(repository, 'pull,push')])
  if (!token.granted) return 'unknown'
  const entry = token.granted.find((a) => a.type === 'repository' && a.name === repository)
  return entry && (entry.actions.includes('push') || entry.actions.includes('*')) ? 'granted' : 'denied'
}

/**
 * Proves write access by opening an upload session. Its cancellation is not awaited: it frees the
 * session sooner, and proves nothing more.
 */
export async function probeUpload(client: RegistryClient, repository: string): Promise<void> {
  const session = await startUpload(client, repository)
  void cancelUpload(client, repository, session.location)
}

/** HEAD a blob at the destination. */
export async function blobExists(
  client: RegistryClient,
  repository: string,
  digest: string
): Promise<boolean> {
  const response = await client.request({
    method: 'HEAD',
    url: `/v2/${repository}/blobs/${digest}`,
    scopes: [repositoryScope(repository, 'pull,push')],
    expect: [200],
    // 403 is absence on Artifactory virtual repositories (see headManifest).
    allow: [404, 403],
    what: `HEAD blob ${digest}`
  })
  await response.body.dump()
  return response.status === 200
}

export type MountResult = { mounted: true } | { mounted: false; location: string }

/**
 * Asks the registry to link a blob it already holds in `fromRepository`. A registry that cannot mount
 * answers 202 with an upload session, which the caller uses for a normal upload.
 */
export async function mountBlob(
  client: RegistryClient,
  repository: string,
  digest: string,
  fromRepository: string
): Promise<MountResult> {
  const query = new URLSearchParams({ mount: digest, from: fromRepository })
  const response = await client.request({
    method: 'POST',
    url: `/v2/${repository}/blobs/uploads/?${query.toString()}`,
    scopes: [repositoryScope(repository, 'pull,push'), repositoryScope(fromRepository, 'pull')],
    headers: { 'content-length': '0' },
    expect: [201, 202],
    what: `mount blob ${digest} from ${fromRepository}`
  })
  await response.body.dump()
  if (response.status === 201) return { mounted: true }
  return { mounted: false, location: requireLocation(response.headers, response.url, 'mount') }
}

export interface UploadSession {
  location: string
  /** OCI-Chunk-Min-Length: the smallest chunk this registry takes, when it says. */
  minChunkBytes?: number
}

/** POST /blobs/uploads/: opens an upload session. */
export async function startUpload(client: RegistryClient, repository: string): Promise<UploadSession> {
  const response = await client.request({
    method: 'POST',
    url: `/v2/${repository}/blobs/uploads/`,
    scopes: [repositoryScope(repository, 'pull,push')],
    headers: { 'content-length': '0' },
    expect: [202],
    what: `start upload to ${repository}`
  })
  await response.body.dump()
  const min = Number(header(response.headers, 'oci-chunk-min-length'))
  return {
    location: requireLocation(response.headers, response.url, 'upload'),
    minChunkBytes: Number.isFinite(min) && min > 0 ? min : undefined
  }
}

/** Completes an upload with the whole blob in one streamed PUT. */
export async function putMonolithic(
  client: RegistryClient,
  target: BlobTarget,
  session: UploadSession,
  body: Body
): Promise<void> {
  const response = await client.request({
    method: 'PUT',
    url: withDigest(session.location, target.digest),
    scopes: [repositoryScope(target.repository, 'pull,push')],
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(target.size) },
    body,
    expect: [201, 204],
    what: `upload blob ${target.digest}`,
    responseTimeoutMs: client.network.commitTimeoutMs
  })
  await response.body.dump()
}

/** Sends one PATCH chunk; returns the next Location. ECR answers some PATCHes with 201. */
export async function patchChunk(
  client: RegistryClient,
  target: BlobTarget,
  location: string,
  body: Body,
  start: number,
  length: number
): Promise<string> {
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    'content-length': String(length)
  }
  if (length > 0) headers['content-range'] = `${start}-${start + length - 1}`
  const response = await client.request({
    method: 'PATCH',
    url: location,
    scopes: [repositoryScope(target.repository, 'pull,push')],
    headers,
    body,
    expect: [202, 201, 204],
    what: `upload chunk ${start}-${start + length - 1} of blob ${target.digest}`,
    // Its body may pause while the source resumes a download: wait as for a commit.
    responseTimeoutMs: client.network.commitTimeoutMs
  })
  await response.body.dump()
  return header(response.headers, 'location')
    ? requireLocation(response.headers, response.url, 'chunk')
    : location
}

/** Closes a chunked upload: PUT ?digest= with no body. */
export async function finishUpload(
  client: RegistryClient,
  target: BlobTarget,
  location: string
): Promise<void> {
  const response = await client.request({
    method: 'PUT',
    url: withDigest(location, target.digest),
    scopes: [repositoryScope(target.repository, 'pull,push')],
    headers: { 'content-length': '0' },
    expect: [201, 204],
    what: `finish upload of blob ${target.digest}`,
    responseTimeoutMs: client.network.commitTimeoutMs
  })
  await response.body.dump()
}

/** Abandons an upload session; best effort, so the registry can free it sooner. */
export async function cancelUpload(
  client: RegistryClient,
  repository: string,
  location: string
): Promise<void> {
  try {
    const response = await client.request({
      method: 'DELETE',
      url: location,
      scopes: [repositoryScope(repository, 'pull,push')],
      expect: [204, 200, 202, 404],
      what: 'cancel upload'
    })
    await response.body.dump()
  } catch {
    // The session expires on its own.
  }
}

/** PUT a manifest's exact bytes under a tag or its digest; returns the digest the registry reports. */
export async function putManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
  manifest: { bytes: Buffer; mediaType: string },
  onHeaders?: (headers: Record<string, string | string[] | undefined>) => void,
  extraHeaders: Record<string, string> = {}
): Promise<string | undefined> {
  const what = `PUT manifest ${repository}${reference.includes(':') ? '@' : ':'}${reference}`
  return withRetry(
    async () => {
      const response = await client.request({
        method: 'PUT',
        url: `/v2/${repository}/manifests/${reference}`,
        scopes: [repositoryScope(repository, 'pull,push')],
        headers: {
          'content-type': manifest.mediaType,
          'content-length': String(manifest.bytes.length),
          ...extraHeaders
        },
        body: manifest.bytes,
        expect: [201, 200, 202, 204],
        what
      })
      await response.body.dump()
      onHeaders?.(response.headers)
      return header(response.headers, 'docker-content-digest')
    },
    { attempts: 4, baseDelayMs: 250, signal: client.signal, retryable: isContentRace }
  )
}

/**
 * A registry that has just been shown everything a manifest refers to can still answer that some
 * of it is unknown: another writer is rewriting the same links (two runs promoting one image at once,
 * measured on distribution's filesystem store), or the storage is eventually consistent. The content
 * was verified present, so a short wait and another try is right.
 */
function isContentRace(error: unknown): boolean {
  return (
    error instanceof RegistryError &&
    error.status === 400 &&
    error.details.some((d) => ['MANIFEST_BLOB_UNKNOWN', 'BLOB_UNKNOWN', 'DIGEST_INVALID'].includes(d.code))
  )
}

/** Upload Locations may be relative and carry state in their query: resolve and keep it. */
function requireLocation(
  headers: Record<string, string | string[] | undefined>,
  base: URL,
  what: string
): string {
  const location = header(headers, 'location')
  if (!location)
    throw new RegistryError(`the registry answered the ${what} request without a Location`, {
      retryable: true
    })
  return new URL(location, base).toString()
}

function withDigest(location: string, digest: string): string {
  const url = new URL(location)
  url.searchParams.set('digest', digest)
  return url.toString()
}
