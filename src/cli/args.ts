// The command line: SOURCE DESTINATION and flags named as the action's inputs, each also readable from
// the environment as ECR_PROMOTE_<NAME>. A flag wins over the environment. Passwords never come from a
// flag (it would sit in the process list and the shell history): the environment or stdin only.
import { INPUT_NAMES, type Read } from '../promotion/options.js'

export class UsageError extends Error {
  override name = 'UsageError'
}

export type OutputFormat = 'text' | 'json'

/** Flags of the command itself, beyond the promotion's options. */
const COMMAND_FLAGS = [
  'output',
  'dotenv',
  'results-dir',
  'web-identity-token-env',
  'web-identity-token-file'
] as const
const SWITCHES = [
  'dry-run',
  'source-password-stdin',
  'destination-password-stdin',
  'help',
  'version'
] as const
const PASSWORDS = ['source-password', 'destination-password', 'github-token'] as const
/** Options that take a value (the action's inputs less the positional ones and the passwords). */
const VALUE_OPTIONS = INPUT_NAMES.filter(
  (n) =>
    n !== 'source' && n !== 'destination' && n !== 'dry-run' && !(PASSWORDS as readonly string[]).includes(n)
)

export interface CommandLine {
  /** The promotion's options, as the options model reads them (flags, then environment). */
  read: Read
  help: boolean
  version: boolean
  output: OutputFormat
  dotenv?: string
  resultsDir?: string
  webIdentityTokenEnv?: string
  webIdentityTokenFile?: string
  /** Which password, if any, comes from stdin. */
  passwordFromStdin?: 'source-password' | 'destination-password'
  /** --images: a file of SOURCE DESTINATION lines, or - for stdin. */
  imagesFile?: string
}

export function envName(option: string): string {
  return `ECR_PROMOTE_${option.toUpperCase().replace(/-/g, '_')}`
}

export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv = process.env): CommandLine {
  const values = new Map<string, string>()
  const positional: string[] = []
  const known = new Set<string>([...VALUE_OPTIONS, ...COMMAND_FLAGS, ...SWITCHES])
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') {
      positional.push(...argv.slice(i + 1))
      break
    }
    if (!arg.startsWith('--') || arg === '-') {
      if (arg.startsWith('-') && arg !== '-') {
        if (arg === '-h') {
          values.set('help', 'true')
          continue
        }
        throw new UsageError(`unknown option ${arg}; options are spelled --name (see --help)`)
      }
      positional.push(arg)
      continue
    }
    const eq = arg.indexOf('=')
    const name = arg.slice(2, eq === -1 ? undefined : eq)
    if ((PASSWORDS as readonly string[]).includes(name)) {
      throw new UsageError(
        `--${name} is not accepted: a password on the command line shows in the process list and the shell history. ` +
          `Set ${envName(name)}` +
          (name === 'github-token' ? '' : `, or pass --${name}-stdin and write it to standard input`)
      )
    }
    if (!known.has(name)) throw new UsageError(`unknown option --${name}${suggest(name, known)}`)
    if ((SWITCHES as readonly string[]).includes(name)) {
      values.set(name, eq === -1 ? 'true' : arg.slice(eq + 1))
      continue
    }
    let value: string | undefined
    if (eq !== -1) value = arg.slice(eq + 1)
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) value = argv[++i]
    if (value === undefined) throw new UsageError(`--${name} needs a value`)
    // Repeating a list option adds to it (--tags 1.4.2 --tags 1.4).
    const previous = values.get(name)
    // Repeated: tags add up (comma), keys too (one per line).
    const joined =
      previous === undefined
        ? value
        : /tags$/.test(name)
          ? `${previous},${value}`
          : name === 'require-signature-key'
            ? `${previous}\n${value}`
            : value
    values.set(name, joined)
  }
  if (positional.length > 2) {
    throw new UsageError(`too many arguments (${positional.length}); expected SOURCE DESTINATION`)
  }
  const fromEnv = (name: string): string => env[envName(name)] ?? ''
  const flag = (name: string): string | undefined => values.get(name)
  const switchOn = (name: string): boolean => {
    const raw = (flag(name) ?? fromEnv(name)).trim().toLowerCase()
    if (raw === '' || raw === 'false') return false
    if (raw === 'true') return true
    throw new UsageError(`--${name} is "${raw.slice(0, 20)}"; allowed: true, false`)
  }
  const help = switchOn('help')
  const version = switchOn('version')
  const stdin = (['source-password', 'destination-password'] as const).filter((p) => switchOn(`${p}-stdin`))
  if (stdin.length > 1) {
    throw new UsageError(
      '--source-password-stdin and --destination-password-stdin: standard input holds one password'
    )
  }
  const output = (flag('output') ?? (fromEnv('output') || 'text')).trim().toLowerCase()
  if (output !== 'text' && output !== 'json') {
    throw new UsageError(`--output is "${output.slice(0, 20)}"; allowed: text, json`)
  }
  const read: Read = (name) => {
    if (name === 'source') return positional[0] ?? fromEnv('source')
    if (name === 'destination') return positional[1] ?? fromEnv('destination')
    if (name === 'dry-run') return flag('dry-run') ?? fromEnv('dry-run')
    // --images names a file; the environment variable holds the lines themselves.
    if (name === 'images') return flag('images') === undefined ? fromEnv('images') : ''
    return flag(name) ?? fromEnv(name)
  }
  const optional = (name: string): string | undefined => (flag(name) ?? fromEnv(name)).trim() || undefined
  return {
    read,
    help,
    version,
    output,
    dotenv: optional('dotenv'),
    resultsDir: optional('results-dir'),
    webIdentityTokenEnv: optional('web-identity-token-env'),
    webIdentityTokenFile: optional('web-identity-token-file'),
    passwordFromStdin: stdin[0],
    imagesFile: flag('images')?.trim() || undefined
  }
}

function suggest(name: string, known: Set<string>): string {
  const close = [...known].find(
    (k) => k.startsWith(name) || name.startsWith(k) || k.replace(/-/g, '') === name.replace(/[-_]/g, '')
  )
  return close ? `; did you mean --${close}?` : ' (see --help)'
}
