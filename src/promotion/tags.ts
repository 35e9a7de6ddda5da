// Destination tags: read them all before anything is written, write them last, confirm the result.
import type { TagState } from './policy.js'
import {
  formatDetails,
  headManifest,
  putManifest,
  RegistryError,
  type Logger,
  type Manifest,
  type RegistryClient
} from '../registry/index.js'

export class TagWriteError extends Error {
  override name = 'TagWriteError'
}

/** HEAD every tag at once. HEAD is not a Docker Hub pull. */
export async function checkTags(
  client: RegistryClient,
  repository: string,
  wanted: { tag: string; floating: boolean }[],
  scopes: string[]
): Promise<TagState[]> {
  return Promise.all(
    wanted.map(async ({ tag, floating }) => {
      const head = await headManifest(client, repository, tag, scopes)
      return { tag, floating, current: head?.digest }
    })
  )
}

/**
 * Writes the root manifest's exact bytes under each tag: the guarded tags together, then the floating
 * ones. Each tag written is pushed to `written` as it lands. If a write fails, the error says which
 * tags were written and which were not.
 */
export async function writeTags(
  client: RegistryClient,
  repository: string,
  root: Manifest,
  states: TagState[],
  write: string[],
  reporter: Logger,
  written: string[],
  contentNote: string
): Promise<void> {
  const floating = new Set(states.filter((s) => s.floating).map((s) => s.tag))
  const groups = [write.filter((t) => !floating.has(t)), write.filter((t) => floating.has(t))]
  for (const group of groups) {
    const results = await Promise.allSettled(
      group.map(async (tag) => {
        await writeTag(client, repository, root, tag, reporter)
        written.push(tag)
      })
    )
    const failed = results.findIndex((r) => r.status === 'rejected')
    if (failed !== -1) {
      const done = written.length ? `tags written: ${written.join(', ')}` : 'no tag was written'
      const left = write.filter((t) => !written.includes(t)).join(', ')
      const error = (results[failed] as PromiseRejectedResult).reason as Error
      throw new TagWriteError(
        `write tag ${repository}:${group[failed]}: ${error.message} (${done}; not written: ${left}; ${contentNote})`,
        { cause: error }
      )
    }
  }
}

/**
 * One tag. A registry that refuses the write (4xx) may be refusing because the tag already holds
 * this very digest: ECR with immutable tags answers a repeated PUT so (a retried PUT whose first
 * answer was lost, two identical runs at once). Then the tag is where it should be, and counts.
 */
async function writeTag(
  client: RegistryClient,
  repository: string,
  root: Manifest,
  tag: string,
  reporter: Logger
): Promise<void> {
  let digest: string | undefined
  try {
    digest = await putManifest(client, repository, tag, root)
  } catch (error) {
    if (
      !(error instanceof RegistryError) ||
      error.status === undefined ||
      error.status < 400 ||
      error.status >= 500
    )
      throw error
    const now = await headManifest(client, repository, tag).catch(() => undefined)
    if (now?.digest === root.digest) {
      reporter.info(
        `tag ${tag} -> ${root.digest} (the registry refused the write, but the tag already holds it)`
      )
      return
    }
    throw explainRefusal(error, tag, now?.digest)
  }
  if (digest && digest !== root.digest) {
    throw new TagWriteError(`the registry stored the manifest as ${digest}, not ${root.digest}`)
  }
  reporter.info(`tag ${tag} -> ${root.digest}`)
}

function explainRefusal(error: RegistryError, tag: string, current: string | undefined): Error {
  const details = formatDetails(error.details)
  const words = details ? `${error.status} ${details}` : error.message
  const immutable = /immutab|already exists|TAG_INVALID|ImageTagAlreadyExists/i.test(
    `${words} ${error.message}`
  )
  if (!immutable) return error
  const holds = current ? `, and the tag holds ${current}` : ''
  return new TagWriteError(
    `the registry refused to write tag ${tag}: this repository's tags are immutable${holds} ` +
      `(the registry said: ${words}). Promote under a new tag, or make the repository's tags mutable`,
    { cause: error }
  )
}

/** HEAD the first tag and check it serves the promoted digest. */
export async function confirm(
  client: RegistryClient,
  repository: string,
  tag: string,
  digest: string,
  scopes: string[]
): Promise<void> {
  const head = await headManifest(client, repository, tag, scopes)
  if (head?.digest !== digest) {
    throw new TagWriteError(
      `confirm ${repository}:${tag}: the destination serves ${head?.digest ?? 'nothing'}, expected ${digest}`
    )
  }
}
