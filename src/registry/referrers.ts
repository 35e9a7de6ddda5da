// OCI 1.1 referrers: what refers to a manifest, asked of the referrers API where a registry has one
// and read from the fallback tag `sha256-<hex>` where it does not. A registry's capability is learnt
// from its answers, never from what it announces (some have sent OCI-Subject without a working API).
import { header } from './auth.js'
import { parseErrorBody, RegistryError } from './errors.js'
import { getManifest, type Manifest } from './fetch.js'
import { MANIFEST_ACCEPT, OCI_INDEX, type Descriptor } from './media-types.js'
import { nextPage } from './tag-list.js'
import { repositoryScope, type RegistryClient } from './transport.js'

/** `api`: the registry answered the referrers API; `none`: it has none; `unknown`: not asked yet. */
export type ReferrersSupport = 'api' | 'none' | 'unknown'

export interface ReferrerListing {
  descriptors: Descriptor[]
  /** Where the list came from. */
  via: 'api' | 'fallback-tag' | 'none'
  /** The fallback index as read (`via: fallback-tag`), for a read-modify-write. */
  fallback?: Manifest & { etag?: string }
  /** The fallback tag held something other than an index (it is ignored, never trusted). */
  notAnIndex?: { digest: string; mediaType: string }
  /** The registry refused to answer the referrers API (403): it may have one these credentials cannot use. */
  refused?: number
}

const support = new WeakMap<RegistryClient, Map<string, ReferrersSupport>>()

/** What this client has learnt about the repository's referrers API. */
export function referrersSupport(client: RegistryClient, repository: string): ReferrersSupport {
  return support.get(client)?.get(repository) ?? 'unknown'
}

function learn(client: RegistryClient, repository: string, value: ReferrersSupport): void {
  let byRepo = support.get(client)
  if (!byRepo) support.set(client, (byRepo = new Map()))
  byRepo.set(repository, value)
}

/** The referrers tag schema: `sha256:<hex>` is tagged `sha256-<hex>` (image-spec limits kept). */
export function fallbackTag(digest: string): string {
  const [algorithm, encoded] = digest.split(':')
  const clean = (s: string, max: number) => s.replace(/[^a-zA-Z0-9._-]/g, '-').slice(0, max)
  return `${clean(algorithm, 32)}-${clean(encoded, 64)}`
}

/**
 * Lists the referrers of `digest`: the API first (until the repository shows it has none), then the
 * fallback tag. Only a 200 with an image index content type is an answer of the API; a 404 naming
 * the repository is a missing repository (no referrers), anything else means no API.
 */
export async function listReferrers(
  client: RegistryClient,
  repository: string,
  digest: string,
  scopes = [repositoryScope(repository, 'pull')],
  /** Resolves true when the caller knows the fallback tag does not exist (from the tag list). */
  noFallbackTag: boolean | Promise<boolean> = false
): Promise<ReferrerListing> {
  let refused: number | undefined
  if (referrersSupport(client, repository) !== 'none') {
    const answer = await askApi(client, repository, digest, scopes)
    if (answer === 'repository-missing') return { descriptors: [], via: 'none' }
    if (typeof answer === 'number') refused = answer
    else if (answer !== 'no-api') return { descriptors: answer, via: 'api' }
  }
  const refusal = refused ? { refused } : {}
  if (await noFallbackTag) return { descriptors: [], via: 'fallback-tag', ...refusal }
  return { ...(await readFallback(client, repository, digest, scopes)), ...refusal }
}

async function askApi(
  client: RegistryClient,
  repository: string,
  digest: string,
  scopes: string[]
): Promise<Descriptor[] | 'no-api' | 'repository-missing' | number> {
  const descriptors: Descriptor[] = []
  let url: string | undefined = `/v2/${repository}/referrers/${digest}`
  for (let page = 0; url; page++) {
    if (page >= 100) {
      throw new RegistryError(`GET referrers of ${repository}@${digest}: more than 100 pages`, {
        retryable: false
      })
    }
    const response = await client.request({
      method: 'GET',
      url,
      scopes,
      headers: { accept: OCI_INDEX },
      expect: [200],
      // The API answers 200 itself: a redirect (GHCR has sent 303 to a web page that then answers
      // 429) or a plain-text 404 (distribution, Docker Hub once) means there is none. A 429 from the
      // registry itself is retried like any other: taking it for "no API" would lose referrers.
      allow: [301, 302, 303, 307, 308, 400, 403, 404, 405, 406, 415, 501],
      followRedirects: false,
      what: `GET referrers of ${repository}@${digest}`
    })
    const type = (header(response.headers, 'content-type') ?? '').split(';')[0].trim()
    if (response.status !== 200 || type !== OCI_INDEX) {
      const text = await response.body.text().catch(() => '')
      if (response.status === 404 && parseErrorBody(text).some((d) => d.code === 'NAME_UNKNOWN')) {
        return 'repository-missing'
      }
      if (page > 0) {
        throw new RegistryError(
          `GET referrers of ${repository}@${digest}: page ${page + 1} answered ${response.status}`
        )
      }
      learn(client, repository, 'none')
      return response.status === 403 ? response.status : 'no-api'
    }
    const text = await response.body.text()
    descriptors.push(...parseIndexEntries(text, `the referrers of ${digest}`))
    url = nextPage(header(response.headers, 'link'))
  }
  learn(client, repository, 'api')
  // A registry that ignores ?artifactType= is filtered client-side; we never ask it to filter.
  return descriptors
}

async function readFallback(
  client: RegistryClient,
  repository: string,
  digest: string,
  scopes: string[]
): Promise<ReferrerListing> {
  const tag = fallbackTag(digest)
  const found = await getManifestWithEtag(client, repository, tag, scopes)
  if (!found) return { descriptors: [], via: 'fallback-tag' }
  if (found.mediaType !== OCI_INDEX || found.digest === digest) {
    // GitLab resolves the tag to the subject itself; `cosign copy` pushes images under it.
    return {
      descriptors: [],
      via: 'fallback-tag',
      notAnIndex: { digest: found.digest, mediaType: found.mediaType }
    }
  }
  return {
    descriptors: parseIndexEntries(found.bytes.toString('utf8'), `fallback tag ${tag}`),
    via: 'fallback-tag',
    fallback: found
  }
}

async function getManifestWithEtag(
  client: RegistryClient,
  repository: string,
  tag: string,
  scopes: string[]
): Promise<(Manifest & { etag?: string }) | undefined> {
  let etag: string | undefined
  // Whatever the tag holds is asked for: distribution hides an OCI manifest from an index-only Accept.
  const manifest = await getManifest(client, repository, tag, scopes, MANIFEST_ACCEPT, (headers) => {
    etag = header(headers, 'etag')
  }).catch((error: unknown) => {
    // The repository does not exist yet: nothing refers to anything in it.
    if (error instanceof RegistryError && error.status === 404) return undefined
    throw error
  })
  return manifest && { ...manifest, etag }
}

function parseIndexEntries(text: string, what: string): Descriptor[] {
  let parsed: { manifests?: unknown }
  try {
    parsed = JSON.parse(text) as { manifests?: unknown }
  } catch (error) {
    throw new RegistryError(`${what}: not valid JSON`, { retryable: false, cause: error })
  }
  const entries = Array.isArray(parsed.manifests) ? (parsed.manifests as Descriptor[]) : []
  return entries.filter(
    (d) =>
      typeof d?.digest === 'string' &&
      /^sha(256|512):[a-f0-9]+$/.test(d.digest) &&
      Number.isSafeInteger(d.size)
  )
}
