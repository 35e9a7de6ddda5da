// One promotion: resolve the source, check the destination's tags, copy what is missing, write the
// tags last, and confirm the destination serves the source's digest.
import type { Dispatcher } from 'undici'
import type { Inputs } from './context.js'
import { decide, describeConflicts, type Decision, type TagState } from './policy.js'
import {
  copyContent,
  formatPlatform,
  getManifest,
  headManifest,
  isDockerHub,
  parseDocument,
  putManifest,
  RegistryClient,
  repositoryScope,
  verifyStream,
  getBlob,
  type CopyStats,
  type Logger,
  type Manifest,
  type Platform,
  type Reference
} from './registry/index.js'

export type Result = 'copied' | 'unchanged' | 'skipped'
export type TagOutcome = 'written' | 'unchanged' | 'conflict' | 'not-written' | 'would-write'

export interface Reporter extends Logger {
  group<T>(name: string, task: () => Promise<T>): Promise<T>
}

export interface PromoteOptions {
  reporter: Reporter
  signal?: AbortSignal
  dispatcher?: Dispatcher
  onSecret?: (secret: string) => void
}

export interface PromoteResult {
  digest: string
  mediaType: string
  image: string
  result: Result
  dryRun: boolean
  /** Tags that point at the digest when the run ends. */
  tags: string[]
  tagOutcomes: { tag: string; floating: boolean; before?: string; outcome: TagOutcome }[]
  platforms: string[]
  copy?: CopyStats
  requests: { source: number; destination: number }
  durationMs: number
}

export class PromotionError extends Error {
  override name = 'PromotionError'
}

export async function promote(inputs: Inputs, options: PromoteOptions): Promise<PromoteResult> {
  const started = Date.now()
  const { reporter } = options
  const source = createClient(inputs.source, inputs.sourceCredentials, options)
  const destination = createClient(inputs.destination, inputs.destinationCredentials, options)
  const destRepo = inputs.destination.repository
  const destScopes = [repositoryScope(destRepo, 'pull,push')]

  try {
    const root = await reporter.group('Resolve source and check destination tags', async () => {
      const sourceRef = inputs.source.digest ?? inputs.source.tag ?? ''
      // The destination's auth handshake runs while the source manifest is fetched.
      const [manifest] = await Promise.all([
        getManifest(source, inputs.source.repository, sourceRef).catch((error: unknown) => {
          throw wrap(`resolve source ${displayReference(inputs.source)}`, error)
        }),
        destination.auth.authorization(destScopes).catch((error: unknown) => {
          throw wrap(`authenticate to destination ${displayRegistry(inputs.destination.registry)}`, error)
        })
      ])
      if (!manifest) {
        throw new PromotionError(
          `resolve source ${displayReference(inputs.source)}: manifest not found (404)`
        )
      }
      reporter.info(`source ${displayReference(inputs.source)} is ${manifest.digest} (${manifest.mediaType})`)
      return manifest
    })

    const states = await checkTags(destination, destRepo, inputs, destScopes)
    for (const state of states) {
      const now = state.current ? `points at ${state.current}` : 'does not exist'
      reporter.info(`destination tag ${state.tag}${state.floating ? ' (floating)' : ''} ${now}`)
    }
    const decision = decide(root.digest, states, inputs.ifExists)
    const platforms = await listPlatforms(source, inputs.source.repository, root)

    const base = {
      digest: root.digest,
      mediaType: root.mediaType,
      image: `${displayRegistry(inputs.destination.registry)}/${destRepo}@${root.digest}`,
      dryRun: inputs.dryRun,
      platforms
    }
    const finish = (
      result: Result,
      tags: string[],
      outcomes: PromoteResult['tagOutcomes'],
      copy?: CopyStats
    ) => ({
      ...base,
      result,
      tags,
      tagOutcomes: outcomes,
      copy,
      requests: { source: source.stats.requests, destination: destination.stats.requests },
      durationMs: Date.now() - started
    })

    if (decision.action === 'fail') {
      throw new PromotionError(
        `destination ${displayRegistry(inputs.destination.registry)}/${destRepo}: ${describeConflicts(root.digest, decision.conflicts)}; ` +
          `nothing was written (if-exists: fail). Set if-exists to skip or overwrite, or promote under a new tag`
      )
    }
    if (decision.action === 'skip') {
      reporter.info(
        `skipped: ${describeConflicts(root.digest, decision.conflicts)} (if-exists: skip); nothing was written`
      )
      return finish('skipped', decision.alreadyThere, outcomesFor(root.digest, states, decision, 'skip'))
    }
    if (decision.action === 'unchanged') {
      reporter.info(`unchanged: every tag already points at ${root.digest}; nothing to do`)
      return finish(
        'unchanged',
        decision.alreadyThere,
        outcomesFor(root.digest, states, decision, 'unchanged')
      )
    }

    const rootPresent = decision.alreadyThere.length > 0
    const copy = await reporter
      .group(inputs.dryRun ? 'Check content (dry run)' : 'Copy content', () =>
        copyContent({
          source: { client: source, repository: inputs.source.repository },
          destination: { client: destination, repository: destRepo },
          root,
          rootPresent,
          concurrency: inputs.concurrency,
          dryRun: inputs.dryRun
        })
      )
      .catch((error: unknown) => {
        throw wrap(
          `copy ${root.digest} to ${displayRegistry(inputs.destination.registry)}/${destRepo}`,
          error,
          'no tag was written'
        )
      })

    if (inputs.dryRun) {
      reporter.info(`dry run: would write tags ${decision.write.join(', ')}; nothing was written`)
      return finish(
        'copied',
        decision.alreadyThere,
        outcomesFor(root.digest, states, decision, 'dry-run'),
        copy
      )
    }

    await reporter.group('Write tags', () => writeTags(destination, destRepo, root, decision.write, reporter))
    await confirm(destination, destRepo, decision.write[0], root.digest, destScopes)
    reporter.info(`confirmed: ${destRepo}:${decision.write[0]} serves ${root.digest}`)
    const tags = states.map((s) => s.tag)
    return finish('copied', tags, outcomesFor(root.digest, states, decision, 'copy'), copy)
  } finally {
    await Promise.all([source.close(), destination.close()])
  }
}

function createClient(
  ref: Reference,
  credentials: Inputs['sourceCredentials'],
  options: PromoteOptions
): RegistryClient {
  return new RegistryClient({
    registry: ref.registry,
    scheme: ref.scheme,
    credentials,
    dispatcher: options.dispatcher,
    logger: options.reporter,
    signal: options.signal,
    onSecret: options.onSecret
  })
}

/** HEAD every tag at once, before anything is written. HEAD is not a Docker Hub pull. */
async function checkTags(
  client: RegistryClient,
  repository: string,
  inputs: Inputs,
  scopes: string[]
): Promise<TagState[]> {
  const all = [
    ...inputs.tags.map((tag) => ({ tag, floating: false })),
    ...inputs.floatingTags.map((tag) => ({ tag, floating: true }))
  ]
  return Promise.all(
    all.map(async ({ tag, floating }) => {
      try {
        const head = await headManifest(client, repository, tag, scopes)
        return { tag, floating, current: head?.digest }
      } catch (error) {
        throw wrap(`check destination tag ${repository}:${tag}`, error)
      }
    })
  )
}

/** Writes the root manifest's exact bytes under each tag; says what was written if one fails. */
async function writeTags(
  client: RegistryClient,
  repository: string,
  root: Manifest,
  tags: string[],
  reporter: Reporter
): Promise<void> {
  const written: string[] = []
  for (const tag of tags) {
    try {
      const digest = await putManifest(client, repository, tag, root)
      if (digest && digest !== root.digest) {
        throw new PromotionError(`the registry stored the manifest as ${digest}, not ${root.digest}`)
      }
    } catch (error) {
      const done = written.length ? `tags written: ${written.join(', ')}` : 'no tag was written'
      const left = tags.slice(written.length).join(', ')
      throw wrap(
        `write tag ${repository}:${tag}`,
        error,
        `${done}; not written: ${left}; all content is present`
      )
    }
    written.push(tag)
    reporter.info(`tag ${tag} -> ${root.digest}`)
  }
}

async function confirm(
  client: RegistryClient,
  repository: string,
  tag: string,
  digest: string,
  scopes: string[]
): Promise<void> {
  const head = await headManifest(client, repository, tag, scopes)
  if (head?.digest !== digest) {
    throw new PromotionError(
      `confirm ${repository}:${tag}: the destination serves ${head?.digest ?? 'nothing'}, expected ${digest}`
    )
  }
}

/** Platforms from the index, or from the config of a single-platform image. */
async function listPlatforms(client: RegistryClient, repository: string, root: Manifest): Promise<string[]> {
  const document = parseDocument(root)
  if ('manifests' in document) {
    const platforms = document.manifests
      .map((d) => d.platform)
      .filter((p): p is Platform => !!p && p.os !== 'unknown' && p.architecture !== 'unknown')
      .map(formatPlatform)
    return [...new Set(platforms)]
  }
  const config = document.config
  if (config.size > 1024 * 1024) return []
  try {
    const response = await getBlob(client, repository, config.digest)
    const chunks: Uint8Array[] = []
    for await (const chunk of verifyStream(response.body, config, `config ${config.digest}`))
      chunks.push(chunk)
    const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Partial<Platform>
    return parsed.os && parsed.architecture ? [formatPlatform(parsed as Platform)] : []
  } catch (error) {
    // The platform is for the report; a config that is not an image config (an artifact) has none.
    if (error instanceof SyntaxError) return []
    throw wrap(`read config ${config.digest}`, error)
  }
}

function outcomesFor(
  digest: string,
  states: TagState[],
  decision: Decision,
  mode: 'copy' | 'skip' | 'unchanged' | 'dry-run'
): PromoteResult['tagOutcomes'] {
  return states.map((s) => {
    let outcome: TagOutcome
    if (s.current === digest) outcome = 'unchanged'
    else if (mode === 'copy') outcome = 'written'
    else if (mode === 'dry-run') outcome = 'would-write'
    else outcome = decision.conflicts.includes(s) ? 'conflict' : 'not-written'
    return { tag: s.tag, floating: s.floating, before: s.current, outcome }
  })
}

function wrap(what: string, error: unknown, after?: string): Error {
  if (error instanceof PromotionError) return error
  const why = error instanceof Error ? error.message : String(error)
  return new PromotionError(`${what}: ${why}${after ? ` (${after})` : ''}`, { cause: error })
}

export function displayRegistry(registry: string): string {
  return isDockerHub(registry) ? 'docker.io' : registry
}

function displayReference(ref: Reference): string {
  const name = `${displayRegistry(ref.registry)}/${ref.repository}`
  return ref.digest ? `${name}@${ref.digest}` : `${name}:${ref.tag}`
}
