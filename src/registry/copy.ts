// The copy engine: walks an image from its root manifest and makes every child manifest and blob
// present at the destination, by digest, without touching disk. Tags are the caller's: it writes
// them only after this resolves, so a tag never points at incomplete content.
import { BlobCopier } from './blob-copy.js'
import {
  emptyCopyStats,
  type BlobOutcome,
  type CopyOptions,
  type CopyStats,
  type Endpoint
} from './copy-types.js'
import { isWalkable, parseDocument } from './document.js'
import { RegistryError } from './errors.js'
import { getManifest, headManifest, type Manifest } from './fetch.js'
import { formatBytes, formatDuration } from './format.js'
import { createLimiter, type Limiter } from './limit.js'
import { MANIFEST_ACCEPT, type Descriptor, type IndexDocument, type ManifestDocument } from './media-types.js'
import { isDockerHub } from './reference.js'
import { repositoryScope } from './transport.js'
import { putManifest } from './write.js'

/** BuildKit's annotation on an attestation manifest: the platform manifest it describes. */
const ATTESTATION_OF = 'vnd.docker.reference.digest'

export { parseDocument } from './document.js'
export * from './copy-types.js'

/**
 * Makes every blob and child manifest of `root` present at the destination (not the root itself:
 * the caller writes it under its tags). Shared blobs are transferred once; largest blobs start first.
 */
export async function copyContent(options: CopyOptions): Promise<CopyStats> {
  const engine = new CopyEngine(options)
  return engine.run()
}

export class CopyEngine {
  private readonly limit: Limiter
  private readonly blobs = new Map<string, Promise<BlobOutcome>>()
  private readonly manifests = new Map<string, Promise<void>>()
  private readonly stats: CopyStats
  private readonly copier: BlobCopier

  constructor(private readonly options: CopyOptions) {
    this.limit = options.limiter ?? createLimiter(options.concurrency)
    this.stats = options.stats ?? emptyCopyStats()
    this.copier = new BlobCopier(options, this.stats)
  }

  private get log() {
    return this.options.logger ?? this.options.destination.client.logger
  }

  async run(): Promise<CopyStats> {
    const started = Date.now()
    const { root } = this.options
    const document = parseDocument(root)
    // A registry holding a manifest vouches for everything below it. An index needs no check of its
    // own: each child is checked, and a present index means present children.
    const present =
      this.options.rootPresent ||
      (!('manifests' in document) &&
        (await this.limit(() =>
          headManifest(this.dest.client, this.dest.repository, root.digest, this.destScopes)
        )))
    if (present) {
      this.stats.manifests.present++
      this.log.info(`${root.digest} is already present at the destination: no content to copy`)
    } else {
      await this.ensureChildren(root.digest, document)
    }
    this.stats.durationMs = Date.now() - started
    return this.stats
  }

  private get dest(): Endpoint {
    return this.options.destination
  }

  private get destScopes(): string[] {
    return [repositoryScope(this.dest.repository, 'pull,push')]
  }

  /** Everything a manifest refers to: blobs for an image, child manifests for an index. */
  async ensureChildren(digest: string, document: IndexDocument | ManifestDocument): Promise<void> {
    if ('manifests' in document) {
      // A BuildKit attestation manifest names the platform manifest it describes: it is pushed after
      // that one (a registry may refuse a manifest whose subject it does not hold yet).
      const siblings = new Set(document.manifests.map((m) => m.digest))
      const described = (child: Descriptor): string | undefined => {
        const target = child.annotations?.[ATTESTATION_OF]
        return target && target !== child.digest && siblings.has(target) ? target : undefined
      }
      const first = document.manifests.filter((child) => !described(child))
      const firstDone = new Map(first.map((child) => [child.digest, this.ensureManifest(child)]))
      const later = document.manifests
        .filter((child) => described(child))
        .map((child) => this.ensureManifest(child, firstDone.get(described(child) as string)))
      await Promise.all([...firstDone.values(), ...later])
      return
    }
    const all = [document.config, ...document.layers]
    this.stats.imageSizes[digest] = all.reduce((sum, d) => sum + d.size, 0)
    // Only layers that say where else they are served are left behind (foreign layers); a
    // non-distributable media type alone is no reason to skip content the manifest needs.
    const blobs = all.filter((d) => {
      if (!d.urls?.length) return true
      this.stats.foreign.count++
      this.stats.foreign.bytes += d.size
      this.log.info(
        `${d.digest} ${formatBytes(d.size).padStart(10)}  not copied: a foreign layer, served from ${d.urls[0]}`
      )
      return false
    })
    // Largest first: the long transfers start while the small ones fill the gaps.
    blobs.sort((a, b) => b.size - a.size)
    await Promise.all(blobs.map((blob) => this.ensureBlob(blob)))
  }

  private ensureManifest(descriptor: Descriptor, after?: Promise<unknown>): Promise<void> {
    let pending = this.manifests.get(descriptor.digest)
    if (!pending) {
      pending = this.copyManifest(descriptor, after)
      this.manifests.set(descriptor.digest, pending)
    }
    return pending
  }

  private async copyManifest(descriptor: Descriptor, after?: Promise<unknown>): Promise<void> {
    const { source } = this.options
    // A media type we do not know is copied as it is, by digest: the image spec asks clients to
    // tolerate them, and walking what we cannot read would only fail.
    const walk = isWalkable(descriptor.mediaType)
    const accept = !walk
      ? descriptor.mediaType
      : descriptor.mediaType
        ? `${descriptor.mediaType}, ${MANIFEST_ACCEPT}`
        : MANIFEST_ACCEPT
    const fetchSource = (): Promise<Manifest | undefined> =>
      this.limit(() => getManifest(source.client, source.repository, descriptor.digest, undefined, accept))
    // Fetch from the source while the destination is checked (one round trip instead of two), except
    // from Docker Hub, where a manifest GET counts against the pull limit.
    const early = isDockerHub(source.client.registry) ? undefined : fetchSource()
    early?.catch(() => undefined)
    const present = await this.limit(() =>
      headManifest(this.dest.client, this.dest.repository, descriptor.digest, this.destScopes, accept)
    )
    if (present) {
      this.stats.manifests.present++
      return
    }
    const manifest = await (early ?? fetchSource())
    if (!manifest) {
      throw new RegistryError(
        `manifest ${descriptor.digest} is listed in the index but missing from the source`,
        { status: 404, retryable: false }
      )
    }
    if (walk) {
      await this.ensureChildren(descriptor.digest, parseDocument(manifest))
    } else {
      this.stats.unwalked++
      this.log.info(`${descriptor.digest} (${descriptor.mediaType}): unknown media type, copied unwalked`)
    }
    if (this.options.dryRun) {
      this.stats.manifests.wouldPush++
      return
    }
    // Even when every blob was already there, no manifest is written before the gate opens.
    await Promise.all([after, this.options.writeGate])
    const exact = walk ? manifest : { bytes: manifest.bytes, mediaType: descriptor.mediaType }
    await this.limit(() => putManifest(this.dest.client, this.dest.repository, descriptor.digest, exact))
    this.stats.manifests.pushed++
  }

  /**
   * Places a manifest already fetched (a referrer, a signature) at the destination by digest: its
   * content first, then, once `after` has resolved (its subject is there), its exact bytes. Returns
   * the PUT's response headers (OCI-Subject), or undefined in a dry run.
   */
  async placeManifest(
    manifest: Manifest,
    after?: Promise<unknown>
  ): Promise<Record<string, string | string[] | undefined> | undefined> {
    await this.ensureContent(manifest)
    if (this.options.dryRun) {
      this.stats.manifests.wouldPush++
      return undefined
    }
    await Promise.all([after, this.options.writeGate])
    let headers: Record<string, string | string[] | undefined> = {}
    await this.limit(() =>
      putManifest(this.dest.client, this.dest.repository, manifest.digest, manifest, (h) => (headers = h))
    )
    this.stats.manifests.pushed++
    return headers
  }

  /** The content of a manifest already fetched (its blobs, or its children for an index). */
  async ensureContent(manifest: Manifest): Promise<void> {
    if (isWalkable(manifest.mediaType)) await this.ensureChildren(manifest.digest, parseDocument(manifest))
  }

  get dryRun(): boolean {
    return this.options.dryRun ?? false
  }

  /** A blob by descriptor, transferred once however many manifests share it. */
  ensureBlob(descriptor: Descriptor): Promise<BlobOutcome> {
    let pending = this.blobs.get(descriptor.digest)
    if (!pending) {
      // Largest first, across every copy sharing the limiter; manifests (which unlock more work) first of all.
      pending = this.limit(() => this.copyBlob(descriptor), descriptor.size)
      this.blobs.set(descriptor.digest, pending)
    }
    return pending
  }

  private async copyBlob(descriptor: Descriptor): Promise<BlobOutcome> {
    const started = Date.now()
    const outcome = await this.copier.transfer(descriptor)
    this.stats.blobs[outcome].count++
    this.stats.blobs[outcome].bytes += descriptor.size
    const size = formatBytes(descriptor.size).padStart(10)
    const elapsed = formatDuration(Date.now() - started)
    const label = {
      present: 'skipped (present)',
      mounted: 'mounted',
      copied: 'copied',
      'would-copy': 'would copy'
    }
    this.log.info(`${descriptor.digest} ${size}  ${label[outcome]} in ${elapsed}`)
    return outcome
  }
}
