// Writing what a registry without the referrers API cannot keep itself: the fallback index under
// `sha256-<hex>` (read, merged, written back; never replaced) and cosign's digest tags (a union of the
// signatures already there and ours, as cosign writes when an image is signed again).
import { header } from './auth.js'
import { digestOf } from './digest.js'
import { RegistryError } from './errors.js'
import { getManifest, headManifest, type Manifest } from './fetch.js'
import { MANIFEST_ACCEPT, OCI_INDEX, type Descriptor } from './media-types.js'
import { fallbackTag } from './referrers.js'
import { repositoryScope, type RegistryClient } from './transport.js'
import { putManifest } from './write.js'

const ATTEMPTS = 4

/**
 * Adds `entries` to the fallback index of `subject`: every entry already there is kept (other tools
 * attach their own), ours are appended once. Where the registry honours If-Match, a concurrent writer
 * makes the PUT fail with 412 and the merge starts again from what it wrote. Returns whether it wrote.
 */
export async function mergeFallbackIndex(
  client: RegistryClient,
  repository: string,
  subject: string,
  entries: Descriptor[],
  /** Filled with the entries dropped because their manifests are gone. */
  dropped: Set<string> = new Set()
): Promise<boolean> {
  const tag = fallbackTag(subject)
  const scopes = [repositoryScope(repository, 'pull,push')]
  for (let attempt = 1; ; attempt++) {
    let etag: string | undefined
    // Whatever the tag holds (see readFallback), so that a non-index there is seen and replaced.
    const current = await getManifest(client, repository, tag, scopes, MANIFEST_ACCEPT, (h) => {
      etag = header(h, 'etag')
    }).catch((error: unknown) => {
      if (error instanceof RegistryError && error.status === 404) return undefined
      throw error
    })
    const merged = mergeIndex(current, subject, entries, dropped)
    if (!merged) return false
    try {
      await putManifest(
        client,
        repository,
        tag,
        merged,
        undefined,
        etag && current ? { 'if-match': etag } : {}
      )
      return true
    } catch (error) {
      // An entry someone else left whose manifest was deleted since: the registry refuses the whole
      // index for it. Such entries are dropped (the spec asks deleters to do so) and named.
      if (
        attempt < ATTEMPTS &&
        dropped.size === 0 &&
        names(error, ['MANIFEST_BLOB_UNKNOWN', 'MANIFEST_UNKNOWN'])
      ) {
        const ours = new Set(entries.map((e) => e.digest))
        const theirs = listedIn(current).filter((d) => !ours.has(d.digest))
        const gone = await Promise.all(
          theirs.map(async (d) =>
            (await headManifest(client, repository, d.digest, scopes)) ? undefined : d.digest
          )
        )
        for (const digest of gone) if (digest) dropped.add(digest)
        if (dropped.size) {
          client.logger.warning(
            `referrers index ${tag} listed ${[...dropped].join(', ')}, which the destination no longer holds: dropped`
          )
          continue
        }
      }
      if (!(error instanceof RegistryError) || error.status !== 412 || attempt >= ATTEMPTS) {
        throw new RegistryError(`update the referrers index ${tag} of ${subject}: ${describe(error)}`, {
          retryable: false,
          status: error instanceof RegistryError ? error.status : undefined,
          cause: error
        })
      }
    }
  }
}

/** The index with our entries added; undefined when it lists them all already. */
export function mergeIndex(
  current: Manifest | undefined,
  subject: string,
  entries: Descriptor[],
  dropped: Set<string> = new Set()
): Manifest | undefined {
  let document: Record<string, unknown> = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }
  // Anything but an index there (an image `cosign copy` pushed, GitLab's resolution of the tag to the
  // subject itself) is not a referrers index: it is replaced, and stays reachable by its digest.
  if (current && current.mediaType === OCI_INDEX && current.digest !== subject) {
    try {
      const parsed = JSON.parse(current.bytes.toString('utf8')) as Record<string, unknown>
      if (parsed && Array.isArray(parsed.manifests)) document = parsed
    } catch {
      // Unreadable: replaced like any other non-index.
    }
  }
  const manifests = (document.manifests as Descriptor[]).filter((d) => !dropped.has(d?.digest))
  const listed = new Set(manifests.map((d) => d?.digest))
  const added = entries.filter((d) => !listed.has(d.digest))
  if (!added.length && !dropped.size) return undefined
  const bytes = Buffer.from(JSON.stringify({ ...document, manifests: [...manifests, ...added] }))
  return { mediaType: OCI_INDEX, bytes, digest: digestOf(bytes) }
}

/**
 * The destination's digest-tag manifest with our layers it lacks appended (by layer digest). Its own
 * config stays: verifiers read the layers and their annotations, not the config.
 */
export function unionDigestTag(current: Manifest, ours: Manifest): Manifest {
  const theirs = JSON.parse(current.bytes.toString('utf8')) as { layers?: Descriptor[] } & Record<
    string,
    unknown
  >
  const mine = JSON.parse(ours.bytes.toString('utf8')) as { layers?: Descriptor[] }
  const have = new Set((theirs.layers ?? []).map(layerKey))
  const layers = [...(theirs.layers ?? []), ...(mine.layers ?? []).filter((l) => !have.has(layerKey(l)))]
  const bytes = Buffer.from(JSON.stringify({ ...theirs, layers }))
  return { mediaType: current.mediaType, bytes, digest: digestOf(bytes) }
}

/**
 * A signature is its layer and its annotations: two signatures of one digest share the payload blob
 * (same digest) and differ only in `dev.cosignproject.cosign/signature`.
 */
export function layerKey(layer: Descriptor): string {
  const annotations = Object.entries(layer.annotations ?? {}).sort(([a], [b]) => a.localeCompare(b))
  return `${layer.digest} ${JSON.stringify(annotations)}`
}

function names(error: unknown, codes: string[]): boolean {
  return error instanceof RegistryError && error.details.some((d) => codes.includes(d.code))
}

function listedIn(index: Manifest | undefined): Descriptor[] {
  try {
    const parsed = index && (JSON.parse(index.bytes.toString('utf8')) as { manifests?: Descriptor[] })
    return Array.isArray(parsed?.manifests) ? parsed.manifests : []
  } catch {
    return []
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
