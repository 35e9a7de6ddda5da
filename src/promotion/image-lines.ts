// A release set's options: the `images` input's lines, each read through the one options model with
// its own source, destination and tags, and the rules that span lines (two lines writing one tag).
import { deriveFloatingTags } from './floating.js'
import { parseEcrHost } from '../aws/hosts.js'
import { displayRegistryName, getInputs, InputError, type Inputs, type Read } from './options.js'
import { parseBoolean } from './option-values.js'
import { isDockerHub, parseReference, printable, type Reference } from '../registry/index.js'

export interface ImageLine {
  /** 1-based line number in the `images` input. */
  line: number
  source: string
  destination: string
}

/** `SOURCE DESTINATION` per line; blank lines and `#` comments ignored. */
export function parseImageLines(raw: string): ImageLine[] {
  const lines: ImageLine[] = []
  raw.split(/\r?\n/).forEach((text, i) => {
    const content = text.replace(/(^|\s)#.*$/, '').trim()
    if (!content) return
    const fields = content.split(/\s+/)
    if (fields.length !== 2) {
      throw new InputError(
        'images',
        `line ${i + 1} is "${printable(content)}"; each line is SOURCE DESTINATION, separated by white space`
      )
    }
    lines.push({ line: i + 1, source: fields[0], destination: fields[1] })
  })
  if (!lines.length) throw new InputError('images', 'has no SOURCE DESTINATION line')
  return lines
}

/**
 * The promotions the inputs ask for: one (source and destination), or one per line of `images`,
 * each with every other input. An error in a line names the line.
 */
export function getPromotions(
  read: Read,
  env: NodeJS.ProcessEnv = process.env
): { inputs: Inputs; line?: number }[] {
  const raw = read('images')
  if (!raw.trim()) return [{ inputs: getInputs(read, env) }]
  for (const name of ['source', 'destination']) {
    if (read(name).trim()) {
      throw new InputError('images', `is given together with ${name}; give images, or source and destination`)
    }
  }
  const lines = parseImageLines(raw)
  const tagsFor = tagsByLine(read('tags'), lines)
  // The Docker Hub OIDC connection (and the organisation named as username) are for the lines that
  // reach Docker Hub; a line to GHCR, ECR or ECR Public logs in its own way.
  const oidc = read('dockerhub-oidc-connection-id').trim() !== ''
  const reachesHub = (l: ImageLine) =>
    [l.source, l.destination].some((r) => {
      const ref = safeParse(r)
      return ref !== undefined && isDockerHub(ref.registry)
    })
  if (oidc && !lines.some(reachesHub)) {
    throw new InputError('dockerhub-oidc-connection-id', 'is set, but no line of images reaches Docker Hub')
  }
  // create-repository is for the lines to ECR (an error when none is). The scan gate is not narrowed:
  // a line whose source ECR cannot vouch for is refused by name, never promoted unchecked.
  const isEcr = (r: string) => parseEcrHost(safeParse(r)?.registry ?? '') !== undefined
  if (parseBoolean(read, 'create-repository', false) && !lines.some((l) => isEcr(l.destination))) {
    throw new InputError('create-repository', 'is true, but no line of images has an ECR destination')
  }
  const promotions = lines.map((l) => {
    const { line, source, destination } = l
    const hidden = new Set<string>()
    if (!isEcr(destination))
      for (const name of ['create-repository', 'repository-tag-mutability']) hidden.add(name)
    if (oidc && !reachesHub(l)) {
      hidden.add('dockerhub-oidc-connection-id')
      for (const side of ['source', 'destination']) {
        if (!read(`${side}-password`).trim()) hidden.add(`${side}-username`)
      }
    }
    const lineRead: Read = (name) =>
      name === 'source'
        ? source
        : name === 'destination'
          ? destination
          : name === 'tags'
            ? (tagsFor.get(line) ?? read(name))
            : hidden.has(name)
              ? ''
              : read(name)
    try {
      return { inputs: getInputs(lineRead, env), line }
    } catch (error) {
      if (
        error instanceof InputError &&
        ['source', 'destination', 'tags', 'floating-tags', 'fail-on-scan-severity'].includes(error.input)
      ) {
        throw new InputError('images', `line ${line}: ${error.input} ${error.rule}`)
      }
      throw error
    }
  })
  // Two lines writing one tag would race; say which.
  const seen = new Map<string, number>()
  for (const { inputs, line } of promotions) {
    // Under auto the derived tags count too: two versions to one repository would race for latest.
    const derived = inputs.floatingAuto ? (deriveFloatingTags(inputs.tags)?.tags.map((t) => t.tag) ?? []) : []
    for (const tag of new Set([...inputs.tags, ...inputs.floatingTags, ...derived])) {
      const key = `${displayRegistryName(inputs.destination.registry)}/${inputs.destination.repository}:${tag}`
      const before = seen.get(key)
      if (before !== undefined) {
        throw new InputError(
          'images',
          `line ${line} writes ${printable(key, 200)}, as line ${before} does; each tag once`
        )
      }
      seen.set(key, line)
    }
  }
  return promotions
}

/**
 * In a set, `tags` given as references (docker/metadata-action over several images) go to the line
 * whose destination they name; bare tags go to every line. A reference no line's destination matches
 * is an error. Lines get no entry when `tags` holds no reference.
 */
function tagsByLine(raw: string, lines: ImageLine[]): Map<number, string> {
  const entries = raw
    .split(/[\n,]/)
    .map((t) => t.replace(/\r$/, '').trim())
    .filter(Boolean)
  const refs = entries.map((entry) => (/[/:@]/.test(entry) ? safeParse(entry) : undefined))
  const byLine = new Map<number, string>()
  if (!refs.some(Boolean)) return byLine
  const destinations = lines.map((l) => ({ line: l.line, ref: safeParse(l.destination) }))
  entries.forEach((entry, i) => {
    const ref = refs[i]
    if (ref && !destinations.some((d) => d.ref && sameRepository(d.ref, ref))) {
      throw new InputError(
        'tags',
        `has "${printable(entry)}", a reference to ${displayRegistryName(ref.registry)}/${ref.repository}, which no line of images promotes to`
      )
    }
  })
  for (const { line, ref: destination } of destinations) {
    const mine = entries.filter((_, i) => !refs[i] || (destination && sameRepository(destination, refs[i]!)))
    byLine.set(line, mine.join('\n'))
  }
  return byLine
}

function safeParse(value: string): Reference | undefined {
  try {
    return parseReference(value)
  } catch {
    return undefined
  }
}

function sameRepository(a: Reference, b: Reference): boolean {
  return a.registry === b.registry && a.repository === b.repository
}
