// Attachments at the destination: what is there already (plan), and making the rest present (write)
// in the order every registry accepts: content, referrer manifests by digest after their subjects,
// the referrers index where the registry keeps none itself, then the digest tags.
import { acceptFor, type Attachment } from './attachments.js'
import type { CopyEngine } from './copy.js'
import type { Endpoint } from './copy-types.js'
import { RegistryError } from './errors.js'
import { headManifest, type Manifest } from './fetch.js'
import { createLimiter, type Limiter } from './limit.js'
import type { Descriptor } from './media-types.js'
import { fallbackTag, listReferrers, type ReferrerListing } from './referrers.js'
import { planDigestTag, writeDigestTag, type DigestTagAction, type TagUpdate } from './digest-tags.js'
import { mergeFallbackIndex } from './referrers-index.js'
import { repositoryScope } from './transport.js'

export type AttachmentState = 'present' | 'copied' | 'would-copy'

export interface PlannedAttachment {
  attachment: Attachment
  /** The destination holds the manifest by digest. */
  manifestPresent: boolean
  /** Digest tags: absent (`write`), holding other signatures (`merge`), covering ours (`none`). */
  tagAction?: DigestTagAction
  /** The destination's manifest under the digest tag, when there is one. */
  destinationTag?: Manifest
  state: AttachmentState
}

export interface AttachmentPlan {
  items: PlannedAttachment[]
  /** Per subject: how the destination lists its referrers, and which of ours it lacks. */
  subjects: { subject: string; listing: ReferrerListing; missing: PlannedAttachment[] }[]
  /** Whether anything must be written. */
  changes: boolean
}

export type { TagUpdate }

/** Reads what the destination has of each attachment (all at once); writes nothing. */
export async function planAttachments(
  destination: Endpoint,
  attachments: Attachment[],
  concurrency: number,
  /** A release set's shared budget, instead of one of `concurrency`. */
  limiter?: Limiter
): Promise<AttachmentPlan> {
  const { client, repository } = destination
  const limit = limiter ?? createLimiter(concurrency)
  const scopes = [repositoryScope(repository, 'pull,push')]
  const items = await Promise.all(
    attachments.map(async (attachment): Promise<PlannedAttachment> => {
      if (attachment.kind === 'referrer') {
        const { digest, mediaType } = attachment.manifest
        const head = await limit(() => headManifest(client, repository, digest, scopes, acceptFor(mediaType)))
        return { attachment, manifestPresent: head !== undefined, state: 'present' }
      }
      const { action, current } = await limit(() => planDigestTag(client, repository, attachment))
      return {
        attachment,
        manifestPresent: action === 'none' || action === 'keep',
        tagAction: action,
        destinationTag: current,
        state: 'present'
      }
    })
  )
  const referrers = items.filter((i) => i.attachment.kind === 'referrer')
  const subjectDigests = [...new Set(referrers.map((i) => i.attachment.subject))]
  const subjects = await Promise.all(
    subjectDigests.map(async (subject) => {
      const listing = await limit(() => listReferrers(client, repository, subject, scopes))
      const listed = new Set(listing.descriptors.map((d) => d.digest))
      const missing = referrers.filter(
        (i) =>
          i.attachment.subject === subject && !(i.manifestPresent && listed.has(i.attachment.manifest.digest))
      )
      return { subject, listing, missing }
    })
  )
  const lacking = new Set(subjects.flatMap((s) => s.missing))
  for (const item of items) {
    if (lacking.has(item) || !item.manifestPresent) {
      item.state = 'would-copy'
    }
  }
  return { items, subjects, changes: items.some((i) => i.state !== 'present') }
}

/**
 * Makes the plan's missing attachments present. Content starts at once; a manifest is pushed only
 * after `subjectsReady` (the image and its root by digest) and after its own subject, if that is an
 * attachment too. Returns the digest tags written.
 */
export async function writeAttachments(
  engine: CopyEngine,
  destination: Endpoint,
  plan: AttachmentPlan,
  subjectsReady: Promise<unknown>,
  /** Filled with index entries dropped because their manifests are gone from the destination. */
  dropped: Set<string> = new Set()
): Promise<TagUpdate[]> {
  type Headers = Record<string, string | string[] | undefined> | undefined
  const placed = new Map<string, Promise<Headers>>()
  const byDigest = new Map(plan.items.map((i) => [i.attachment.manifest.digest, i]))
  const lacking = new Set(plan.subjects.flatMap((s) => s.missing))
  const place = (item: PlannedAttachment): Promise<Headers> => {
    const digest = item.attachment.manifest.digest
    let pending = placed.get(digest)
    if (!pending) {
      const parent = byDigest.get(item.attachment.subject)
      const after: Promise<unknown> =
        parent && parent !== item ? Promise.all([subjectsReady, place(parent)]) : subjectsReady
      // Awaited only once the content is there (or never, in a dry run): a failure meanwhile is the
      // image's or the parent's, reported by them.
      after.catch(() => undefined)
      // A referrer the destination holds but does not list is pushed again: that is what indexes it.
      const { attachment } = item
      pending =
        item.manifestPresent && !lacking.has(item)
          ? after.then(() => undefined)
          : engine.placeManifest(attachment.manifest, after).catch((error: unknown) => {
              throw new RegistryError(
                `copy ${attachment.kind === 'digest-tag' ? `the manifest of tag ${attachment.tag}` : 'referrer'} ` +
                  `${attachment.manifest.digest} (${attachment.artifactType}) of ${attachment.subject}: ` +
                  (error instanceof Error ? error.message : String(error)),
                { retryable: false, cause: error }
              )
            })
      placed.set(digest, pending)
    }
    return pending
  }
  const referrers = plan.items.filter((i) => i.attachment.kind === 'referrer' && i.state !== 'present')
  const tagged = plan.items.filter((i) => i.tagAction === 'write' || i.tagAction === 'merge')
  // Digest tags' content (signatures' payloads) moves beside everything else.
  const content = tagged.map((i) => engine.ensureContent(i.attachment.manifest))
  for (const pending of content) pending.catch(() => undefined)
  const pushed = (i: PlannedAttachment) => place(i).then((headers) => ({ item: i, headers }))
  const pushes = referrers.map(pushed)
  for (const pending of pushes) pending.catch(() => undefined)
  if (engine.dryRun) {
    await Promise.all([...pushes, ...content])
    return tagged.map((i) => ({
      tag: i.attachment.tag as string,
      action: i.tagAction === 'merge' ? 'would-merge' : 'would-write',
      digest: i.attachment.manifest.digest
    }))
  }
  // Each subject's index waits for its own referrers only.
  const indexing = plan.subjects
    .filter((s) => s.missing.length)
    .map(async (s) => indexSubject(dropped, destination, s, await Promise.all(s.missing.map(pushed))))
  // A digest tag needs its content and its subject, nothing else: it goes beside the referrers
  // (user tags wait for both).
  const tagging = tagged.map(async (item, k) => {
    const parent = byDigest.get(item.attachment.subject)
    await Promise.all([content[k], subjectsReady, parent && parent !== item ? place(parent) : undefined])
    return writeDigestTag(destination.client, destination.repository, item.attachment)
  })
  const [updates] = await Promise.all([Promise.all(tagging), Promise.all(indexing)])
  return updates
}

/**
 * A registry with the referrers API indexes a manifest with `subject` itself; it says so with
 * OCI-Subject, confirmed by asking it. Anywhere else the fallback tag is read, merged and written.
 */
async function indexSubject(
  dropped: Set<string>,
  destination: Endpoint,
  entry: AttachmentPlan['subjects'][number],
  results: { item: PlannedAttachment; headers?: Record<string, string | string[] | undefined> }[]
): Promise<void> {
  const { client, repository } = destination
  const scopes = [repositoryScope(repository, 'pull,push')]
  const ours = entry.missing.map((i) => i.attachment.manifest.digest)
  const announced = results
    .filter((r) => entry.missing.includes(r.item))
    .every((r) => r.headers?.['oci-subject'] === entry.subject)
  if (entry.listing.via === 'api' && announced) return
  if (announced || entry.listing.via === 'api') {
    const now = await listReferrers(client, repository, entry.subject, scopes)
    const listed = new Set(now.descriptors.map((d) => d.digest))
    if (now.via === 'api' && ours.every((d) => listed.has(d))) return
  }
  const entries = entry.missing.map((i) => descriptorOf(i.attachment))
  if (await mergeFallbackIndex(client, repository, entry.subject, entries, dropped)) {
    client.logger.info(
      `referrers index ${fallbackTag(entry.subject)} of ${entry.subject}: ${entries.length} added`
    )
  }
}

function descriptorOf(attachment: Attachment): Descriptor {
  const { manifest } = attachment
  return {
    mediaType: manifest.mediaType,
    digest: manifest.digest,
    size: manifest.bytes.length,
    artifactType: attachment.artifactType,
    ...(attachment.annotations ? { annotations: attachment.annotations } : {})
  }
}
