// What refers to an image at the source: OCI 1.1 referrers (manifests whose `subject` is the root or a
// child) and cosign's digest tags (`sha256-<hex>.sig`, `.att`, `.sbom`), then what refers to those,
// level by level up to a depth. Every level's requests go out at once; nothing is written here.
import { getManifest, headManifest, type Manifest } from './fetch.js'
import { createLimiter, type Limiter } from './limit.js'
import type { Logger } from './logger.js'
import { MANIFEST_ACCEPT, type Descriptor } from './media-types.js'
import { fallbackTag, listReferrers } from './referrers.js'
import { listTags } from './tag-list.js'
import { repositoryScope, type RegistryClient } from './transport.js'

export const MAX_REFERRER_DEPTH = 8
/** The suffixes cosign writes; any other `sha256-<hex>.<suffix>` tag travels too. */
export const DIGEST_TAG_SUFFIXES = ['sig', 'att', 'sbom']

export interface Attachment {
  /** `referrer`: found by its `subject`; `digest-tag`: cosign's tag beside the image. */
  kind: 'referrer' | 'digest-tag'
  /** The digest it refers to. */
  subject: string
  /** Its own manifest, exact bytes as the source serves them. */
  manifest: Manifest
  /** The manifest's artifactType, else its config's media type (the referrers index's rule). */
  artifactType: string
  annotations?: Record<string, string>
  /** For a digest tag: the tag's name. */
  tag?: string
  /** 1 for what refers to the image itself, 2 for what refers to that, and so on. */
  depth: number
}

export interface Discovery {
  attachments: Attachment[]
  /** Things seen and left alone, in words, for the log. */
  notes: string[]
  /** What may leave something behind (a refused API, a referrer gone missing), for a warning. */
  warnings: string[]
}

interface Parsed {
  artifactType?: string
  annotations?: Record<string, string>
  subject?: { digest?: string }
  config?: { mediaType?: string }
  layers?: { mediaType?: string }[]
}

/** Finds everything that refers to `subjects` (the root and its children) in the source repository. */
export async function discoverAttachments(
  client: RegistryClient,
  repository: string,
  subjects: string[],
  options: { concurrency: number; logger?: Logger; maxDepth?: number; limiter?: Limiter }
): Promise<Discovery> {
  const limit = options.limiter ?? createLimiter(options.concurrency)
  const scopes = [repositoryScope(repository, 'pull')]
  const tags = listTags(client, repository, scopes)
  const seen = new Set(subjects)
  const attachments: Attachment[] = []
  const notes: string[] = []
  const warnings: string[] = []
  const maxDepth = options.maxDepth ?? MAX_REFERRER_DEPTH
  let level = [...new Set(subjects)]
  for (let depth = 1; level.length; depth++) {
    if (depth > maxDepth) {
      warnings.push(`referrers deeper than ${maxDepth} levels were not followed (of ${level.join(', ')})`)
      break
    }
    const found = await Promise.all(
      level.map((subject) =>
        discoverOne(client, repository, subject, depth, { limit, scopes, tags, notes, warnings })
      )
    )
    level = []
    for (const attachment of found.flat()) {
      const key = attachment.tag ?? attachment.manifest.digest
      if (attachments.some((a) => (a.tag ?? a.manifest.digest) === key)) continue
      attachments.push(attachment)
      if (!seen.has(attachment.manifest.digest)) {
        seen.add(attachment.manifest.digest)
        level.push(attachment.manifest.digest)
      }
    }
  }
  return { attachments, notes, warnings }
}

interface Context {
  limit: Limiter
  scopes: string[]
  tags: Promise<string[] | undefined>
  notes: string[]
  warnings: string[]
}

async function discoverOne(
  client: RegistryClient,
  repository: string,
  subject: string,
  depth: number,
  context: Context
): Promise<Attachment[]> {
  const [referrers, digestTags] = await Promise.all([
    findReferrers(client, repository, subject, depth, context),
    findDigestTags(client, repository, subject, depth, context)
  ])
  return [...referrers, ...digestTags]
}

async function findReferrers(
  client: RegistryClient,
  repository: string,
  subject: string,
  depth: number,
  { limit, scopes, tags, notes, warnings }: Context
): Promise<Attachment[]> {
  // Without the API the fallback tag is read only when the tag list shows it (one request saved
  // for each manifest that has no referrers, which is most).
  // The API is asked at once; only the fallback read waits for the tag list.
  const absent = tags.then((known) => known !== undefined && !known.includes(fallbackTag(subject)))
  absent.catch(() => undefined)
  const listing = await limit(() => listReferrers(client, repository, subject, scopes, absent))
  if (listing.refused) {
    warnings.push(
      `the source refused to list the referrers of ${subject} (${listing.refused}): only the fallback tag ` +
        'was read. If it has the referrers API, let these credentials read it, or referrers kept only there ' +
        'are not copied'
    )
  }
  if (listing.notAnIndex) {
    notes.push(
      `tag ${fallbackTag(subject)} holds ${listing.notAnIndex.mediaType} ${listing.notAnIndex.digest}, ` +
        'not a referrers index: ignored'
    )
  }
  const fetched = await Promise.all(
    unique(listing.descriptors).map(async (descriptor) => {
      const manifest = await limit(() => fetchExact(client, repository, descriptor, scopes))
      if (!manifest) {
        // A referrer deleted after it was indexed: nothing to copy, and no reason to fail the image.
        warnings.push(
          `${descriptor.digest} is listed as a referrer of ${subject} but its manifest is missing at the source: not copied`
        )
        return undefined
      }
      const parsed = parse(manifest)
      // The fallback index is anyone's to write: trust an entry only when its manifest says so.
      if (parsed.subject?.digest !== subject) {
        notes.push(`${descriptor.digest} is listed as a referrer of ${subject} but does not name it: ignored`)
        return undefined
      }
      return describe('referrer', subject, manifest, parsed, depth)
    })
  )
  return fetched.filter((a): a is Attachment => a !== undefined)
}

async function findDigestTags(
  client: RegistryClient,
  repository: string,
  subject: string,
  depth: number,
  { limit, scopes, tags }: Context
): Promise<Attachment[]> {
  const prefix = `${fallbackTag(subject)}.`
  const known = await tags
  // A registry that will not list tags is asked for cosign's three by name.
  const candidates = known
    ? known.filter((t) => t.startsWith(prefix) && t.length > prefix.length)
    : (
        await Promise.all(
          DIGEST_TAG_SUFFIXES.map(async (suffix) => {
            const head = await limit(() => headManifest(client, repository, prefix + suffix, scopes))
            return head ? prefix + suffix : undefined
          })
        )
      ).filter((t): t is string => t !== undefined)
  const found = await Promise.all(
    candidates.map(async (tag) => {
      const manifest = await limit(() => getManifest(client, repository, tag, scopes))
      // Deleted between the list and the read: nothing to copy.
      return manifest && describe('digest-tag', subject, manifest, parse(manifest), depth, tag)
    })
  )
  return found.filter((a): a is Attachment => a !== undefined)
}

/** A referrer by digest, asked for in its own media type (it may be one we do not walk). */
async function fetchExact(
  client: RegistryClient,
  repository: string,
  descriptor: Descriptor,
  scopes: string[]
): Promise<Manifest | undefined> {
  return getManifest(client, repository, descriptor.digest, scopes, acceptFor(descriptor.mediaType))
}

/** The Accept for a manifest of this media type: its own first (it may be one we do not walk). */
export function acceptFor(mediaType: string | undefined): string {
  return mediaType && !MANIFEST_ACCEPT.includes(mediaType)
    ? `${mediaType}, ${MANIFEST_ACCEPT}`
    : MANIFEST_ACCEPT
}

function describe(
  kind: Attachment['kind'],
  subject: string,
  manifest: Manifest,
  parsed: Parsed,
  depth: number,
  tag?: string
): Attachment {
  const artifactType =
    parsed.artifactType ??
    (kind === 'digest-tag' ? parsed.layers?.[0]?.mediaType : undefined) ??
    parsed.config?.mediaType ??
    manifest.mediaType
  return { kind, subject, manifest, artifactType, annotations: parsed.annotations, tag, depth }
}

function parse(manifest: Manifest): Parsed {
  try {
    const value = JSON.parse(manifest.bytes.toString('utf8')) as unknown
    return value && typeof value === 'object' ? (value as Parsed) : {}
  } catch {
    return {}
  }
}

function unique(descriptors: Descriptor[]): Descriptor[] {
  const byDigest = new Map(descriptors.map((d) => [d.digest, d]))
  return [...byDigest.values()]
}
