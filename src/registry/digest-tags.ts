// cosign's digest tags at the destination (`sha256-<hex>.sig`, `.att`, `.sbom`): absent ones get the
// source's manifest as it is; one holding other signatures gets the union, read again just before the
// write (with If-Match where the registry honours it) so that a signature added meanwhile is kept.
import { header } from './auth.js'
import type { Attachment } from './attachments.js'
import { RegistryError } from './errors.js'
import { getManifest, headManifest, type Manifest } from './fetch.js'
import type { Descriptor } from './media-types.js'
import { layerKey, unionDigestTag } from './referrers-index.js'
import { repositoryScope, type RegistryClient } from './transport.js'
import { putManifest } from './write.js'

/** `keep`: the destination's tag holds something we cannot merge with (not a layered manifest). */
export type DigestTagAction = 'write' | 'merge' | 'none' | 'keep'

export interface TagUpdate {
  tag: string
  action: 'written' | 'merged' | 'would-write' | 'would-merge' | 'unchanged' | 'kept'
  digest: string
}

const ATTEMPTS = 4
const IMMUTABLE = /immutab|TAG_INVALID|ImageTagAlreadyExists|already exists/i

/** What the destination's tag needs. A HEAD first (not a Docker Hub pull); a GET only to compare. */
export async function planDigestTag(
  client: RegistryClient,
  repository: string,
  attachment: Attachment
): Promise<{ action: DigestTagAction; current?: Manifest }> {
  const scopes = [repositoryScope(repository, 'pull,push')]
  const tag = attachment.tag as string
  const head = await headManifest(client, repository, tag, scopes)
  if (!head) return { action: 'write' }
  if (head.digest === attachment.manifest.digest) return { action: 'none' }
  const current = await read(client, repository, tag)
  return current
    ? { action: decide(current.manifest, attachment.manifest), current: current.manifest }
    : { action: 'write' }
}

/** Writes (or merges into) the destination's tag; re-reads it first so nothing there is dropped. */
export async function writeDigestTag(
  client: RegistryClient,
  repository: string,
  attachment: Attachment
): Promise<TagUpdate> {
  const tag = attachment.tag as string
  for (let attempt = 1; ; attempt++) {
    const current = await read(client, repository, tag)
    const action = current ? decide(current.manifest, attachment.manifest) : 'write'
    if (action === 'none' || action === 'keep') {
      return { tag, action: action === 'none' ? 'unchanged' : 'kept', digest: current!.manifest.digest }
    }
    const manifest =
      action === 'merge' ? unionDigestTag(current!.manifest, attachment.manifest) : attachment.manifest
    const conditional: Record<string, string> = current?.etag ? { 'if-match': current.etag } : {}
    try {
      await putManifest(client, repository, tag, manifest, undefined, conditional)
      return { tag, action: action === 'merge' ? 'merged' : 'written', digest: manifest.digest }
    } catch (error) {
      if (error instanceof RegistryError && error.status === 412 && attempt < ATTEMPTS) continue
      const explained = await explainRefusal(client, repository, attachment, manifest, error)
      if (explained) throw explained
      return { tag, action: action === 'merge' ? 'merged' : 'written', digest: manifest.digest }
    }
  }
}

/** A digest tag the registry would not write: immutable tags say so, and how to allow it. */
async function explainRefusal(
  client: RegistryClient,
  repository: string,
  attachment: Attachment,
  manifest: Manifest,
  error: unknown
): Promise<unknown> {
  if (
    !(error instanceof RegistryError) ||
    error.status === undefined ||
    error.status < 400 ||
    error.status >= 500
  )
    return error
  const tag = attachment.tag as string
  const now = await headManifest(client, repository, tag).catch(() => undefined)
  // Written after all (a retried PUT whose first answer was lost).
  if (now?.digest === manifest.digest) return undefined
  const immutable = IMMUTABLE.test(
    `${error.message} ${error.details.map((d) => `${d.code} ${d.message}`).join(' ')}`
  )
  const advice = immutable
    ? "this repository's tags are immutable, and signatures are added by rewriting this tag: exclude " +
      'sha256-* tags from tag immutability (ECR: IMMUTABLE_WITH_EXCLUSION; Docker Hub: immutable specific ' +
      'tags only), or set referrers to false'
    : 'check that these credentials may push tags to this repository'
  return new RegistryError(
    `the destination refused to write tag ${tag} (${attachment.artifactType} of ${attachment.subject}): ` +
      `${error.message}; ${advice}`,
    { status: error.status, details: error.details, retryable: false, cause: error }
  )
}

async function read(
  client: RegistryClient,
  repository: string,
  tag: string
): Promise<{ manifest: Manifest; etag?: string } | undefined> {
  let etag: string | undefined
  const manifest = await getManifest(
    client,
    repository,
    tag,
    [repositoryScope(repository, 'pull,push')],
    undefined,
    (h) => {
      etag = header(h, 'etag')
    }
  ).catch((error: unknown) => {
    // A repository that does not exist yet holds no tag.
    if (error instanceof RegistryError && error.status === 404) return undefined
    throw error
  })
  return manifest && { manifest, etag }
}

function decide(current: Manifest, ours: Manifest): DigestTagAction {
  if (current.digest === ours.digest) return 'none'
  const have = layersOf(current)
  const want = layersOf(ours)
  if (!have || !want?.length) return 'keep'
  const keys = new Set(have.map(layerKey))
  return want.every((l) => keys.has(layerKey(l))) ? 'none' : 'merge'
}

/** A layered manifest's layers; undefined for anything else (an index under a digest tag). */
function layersOf(manifest: Manifest): Descriptor[] | undefined {
  try {
    const doc = JSON.parse(manifest.bytes.toString('utf8')) as { layers?: unknown; manifests?: unknown }
    return Array.isArray(doc.layers) && !doc.manifests ? (doc.layers as Descriptor[]) : undefined
  } catch {
    return undefined
  }
}
