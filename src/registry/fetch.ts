// Reading from a registry: manifests (HEAD and GET) and blob streams.
import { header } from './auth.js'
import { digestOf, algorithmOf } from './digest.js'
import { DigestMismatchError, parseErrorBody, RegistryError } from './errors.js'
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

/** HEAD a manifest by tag or digest; undefined when absent. Does not count as a Docker Hub pull. */
export async function headManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
  scopes = [repositoryScope(repository, 'pull')]
): Promise<ManifestHead | undefined> {
  const response = await client.request({
    method: 'HEAD',
    url: `/v2/${repository}/manifests/${reference}`,
    scopes,
    headers: { accept: MANIFEST_ACCEPT },
    expect: [200],
    allow: [404],
    what: `HEAD manifest ${repository}:${reference}`
  })
  await response.body.dump()
  if (response.status === 404) return undefined
  const digest = header(response.headers, 'docker-content-digest')
  const mediaType = contentType(response)
  const size = Number(header(response.headers, 'content-length') ?? NaN)
  if (!digest) {
    // Without the header the digest must come from the bytes themselves.
    const manifest = await getManifest(client, repository, reference, scopes)
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
  accept = MANIFEST_ACCEPT
): Promise<Manifest | undefined> {
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
    const details = parseErrorBody(await response.body.text().catch(() => ''))
    if (details.some((d) => d.code === 'NAME_UNKNOWN')) {
      throw new RegistryError(
        `${what}: repository ${repository} does not exist (or these credentials cannot see it)`,
        {
          status: 404,
          details,
          retryable: false
        }
      )
    }
    return undefined
  }
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
  return { digest, mediaType, bytes }
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
