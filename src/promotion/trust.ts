// The trust chain travels with the image: what refers to it at the source (signatures, SBOMs,
// attestations) is found while the image copies, and made present at the destination after the image
// and before any user tag. Discovery and the destination's state are read at once, beside the copy.
import {
  CopyEngine,
  discoverAttachments,
  fallbackTag,
  planAttachments,
  printable,
  putManifest,
  writeAttachments,
  type AttachmentPlan,
  type CopyStats,
  type Discovery,
  type Limiter,
  type Logger,
  type Manifest,
  type RegistryClient,
  type TagUpdate
} from '../registry/index.js'
import type { Inputs } from './options.js'

export interface ReferrerEntry {
  digest: string
  artifactType: string
  subject: string
  /** `referrer` (OCI 1.1 subject) or `digest-tag` (cosign's sha256-<hex>.sig/.att/.sbom). */
  kind: 'referrer' | 'digest-tag'
  tag?: string
  state: 'copied' | 'present' | 'would-copy'
}

export interface TrustResult {
  entries: ReferrerEntry[]
  tagUpdates: TagUpdate[]
  /** Something was (or in a dry run would be) written. */
  changed: boolean
}

interface Sides {
  src: RegistryClient
  dst: RegistryClient
  inputs: Inputs
  root: Manifest
  /** Every manifest digest of the image (root first): the subjects referrers may name. */
  subjects: string[]
  stats: CopyStats
  log: Logger
  /** A release set's shared budget. */
  limiter?: Limiter
}

/** Discovery at the source and the plan at the destination, started now; writing waits for `write`. */
export class TrustCopy {
  readonly planned: Promise<{ discovery: Discovery; plan: AttachmentPlan }>
  /** What the source has, before the destination is asked (the signature gate needs no more). */
  readonly discovered: Promise<Discovery>
  private imageReady!: (value: unknown) => void
  private imageFailed!: (error: unknown) => void
  private readonly ready = new Promise((resolve, reject) => {
    this.imageReady = resolve
    this.imageFailed = reject
  })
  private writing?: Promise<TagUpdate[]>
  /** Entries of the destination's indexes dropped as dangling. */
  private readonly dropped = new Set<string>()

  constructor(private readonly sides: Sides) {
    const { src, dst, inputs, subjects } = sides
    this.ready.catch(() => undefined)
    // Discovery has its own budget, never the set's: blob tasks hold shared slots while they wait for
    // the write gate, and the signature gate may be waiting for this very discovery.
    this.discovered = discoverAttachments(src, inputs.source.repository, subjects, {
      concurrency: Math.min(inputs.concurrency, 16),
      logger: sides.log
    })
    this.discovered.catch(() => undefined)
    this.planned = this.discovered.then(async (discovery) => ({
      discovery,
      // Its own budget too: an ECR destination's checks wait for the plan (immutable digest tags).
      plan: await planAttachments(
        { client: dst, repository: inputs.destination.repository },
        discovery.attachments,
        Math.min(inputs.concurrency, 16)
      )
    }))
    this.planned.catch(() => undefined)
  }

  /**
   * Starts copying the attachments' content as soon as the plan is known (uploads wait for
   * `writeGate`); their manifests wait for `imageDone` (see release). Call once.
   */
  start(writeGate: Promise<unknown> | undefined): void {
    if (this.writing) return
    const { src, dst, inputs, root, stats } = this.sides
    this.writing = this.planned.then(({ plan }) => {
      if (!plan.changes) return []
      const engine = new CopyEngine({
        source: { client: src, repository: inputs.source.repository },
        destination: { client: dst, repository: inputs.destination.repository },
        root,
        concurrency: inputs.concurrency,
        limiter: this.sides.limiter,
        logger: this.sides.log,
        dryRun: inputs.dryRun,
        writeGate,
        stats
      })
      return writeAttachments(
        engine,
        { client: dst, repository: inputs.destination.repository },
        plan,
        this.ready,
        this.dropped
      )
    })
    this.writing.catch(() => undefined)
  }

  get started(): boolean {
    return this.writing !== undefined
  }

  /** The image failed: nothing of the trust chain is pushed. */
  abandon(error: unknown): void {
    this.imageFailed(error)
  }

  /**
   * The image's content is at the destination. Pushes the root by digest when there is something to
   * attach to it and no tag holds it yet (a subject before its referrers), then waits for the rest.
   */
  async release(rootPresent: boolean): Promise<TrustResult> {
    const { dst, inputs, root, log } = this.sides
    const { discovery, plan } = await this.planned
    for (const note of discovery.notes) log.info(printable(note, 400))
    for (const warning of discovery.warnings) log.warning(printable(warning, 400))
    if (plan.changes && !inputs.dryRun && !rootPresent) {
      await putManifest(dst, inputs.destination.repository, root.digest, root).catch((error: unknown) => {
        this.imageFailed(error)
        throw error
      })
    }
    this.imageReady(undefined)
    this.start(undefined)
    const tagUpdates = await (this.writing as Promise<TagUpdate[]>)
    const entries = plan.items.map(({ attachment, state }): ReferrerEntry => {
      const update = tagUpdates.find((u) => u.tag === attachment.tag)
      return {
        digest: update && !inputs.dryRun ? update.digest : attachment.manifest.digest,
        artifactType: attachment.artifactType,
        subject: attachment.subject,
        kind: attachment.kind,
        ...(attachment.tag ? { tag: attachment.tag } : {}),
        state: state === 'would-copy' && !inputs.dryRun ? 'copied' : state
      }
    })
    for (const entry of entries) log.info(describeEntry(entry, tagUpdates))
    // What others attached at the destination is there after the run too: listed, never touched.
    const ours = new Set(entries.map((e) => e.digest))
    for (const { subject, listing, missing } of plan.subjects) {
      for (const d of listing.descriptors) {
        if (ours.has(d.digest) || this.dropped.has(d.digest)) continue
        ours.add(d.digest)
        const artifactType = d.artifactType ?? d.mediaType
        entries.push({ digest: d.digest, artifactType, subject, kind: 'referrer', state: 'present' })
        log.info(
          `referrer ${d.digest} (${printable(artifactType, 200)}) of ${subject}: at the destination already, not from the source`
        )
      }
      if (inputs.dryRun && missing.length && listing.via !== 'api') {
        log.info(
          `would add ${missing.length} entries to the referrers index ${fallbackTag(subject)} of ${subject}`
        )
      }
    }
    return { entries, tagUpdates, changed: plan.changes }
  }
}

function describeEntry(entry: ReferrerEntry, updates: TagUpdate[]): string {
  const what = entry.kind === 'digest-tag' ? `tag ${entry.tag}` : `referrer ${entry.digest}`
  const update = updates.find((u) => u.tag === entry.tag)
  const state =
    entry.state === 'present'
      ? 'already there'
      : update?.action === 'merged'
        ? 'merged with the signatures already there'
        : update?.action === 'would-merge'
          ? 'would merge with the signatures already there'
          : entry.state === 'would-copy'
            ? 'would copy'
            : 'copied'
  // Names and types come from the source's manifests: never let one start a line of its own.
  return `${printable(what, 200)} (${printable(entry.artifactType, 200)}) of ${entry.subject}: ${state}`
}

/** The image's manifest digests: the root, and each child of an index. */
export function subjectsOf(root: Manifest): string[] {
  try {
    const document = JSON.parse(root.bytes.toString('utf8')) as { manifests?: { digest?: unknown }[] }
    const children = (document.manifests ?? []).map((m) => m.digest).filter((d) => typeof d === 'string')
    return [root.digest, ...(children as string[])]
  } catch {
    return [root.digest]
  }
}
