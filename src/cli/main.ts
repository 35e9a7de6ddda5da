// The command-line front: the same promotion as the action, for Jenkins, GitLab CI, Codefresh, Tekton
// and shells. The log goes to stderr (secrets redacted), the result to stdout, and the exit code
// says what happened: 0 done, 2 bad usage, 3 a tag conflict, 4 access refused, 1 anything else.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setMaxListeners } from 'node:events'
import { getPromotions, InputError, type Inputs } from '../promotion/options.js'
import { promoteSet, type SetMember, type SetResult } from '../promotion/set.js'
import { failureKind, promote, type PromoteResult, type Reporter } from '../promotion/promote.js'
import { imagesOutput, resultRecord, totals } from '../promotion/report.js'
import { ProxyAwareDispatcher, readNetworkEnvironment, readProxyEnvironment } from '../registry/index.js'
import { envName, parseCommandLine, UsageError, type CommandLine } from './args.js'
import { HELP, VERSION } from './help.js'
import { fetchGithubIdToken } from './oidc.js'
import { DOCKER_OIDC_AUDIENCE } from '../promotion/dockerhub-oidc.js'
import { bundledSdk, bundledSigstore } from './sdk.js'
import { createRedactor, type Redactor } from './redact.js'

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  conflict: 3,
  access: 4,
  /** A gate refused the image (unsigned, vulnerable). */
  gate: 5,
  sigint: 130,
  sigterm: 143
} as const

export interface Streams {
  stdout: (text: string) => void
  stderr: (text: string) => void
  stdin: () => string
}

const processStreams: Streams = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stdin: () => readFileSync(0, 'utf8')
}

/** Runs one promotion from argv; resolves to the exit code (the caller exits with it). */
export async function runCli(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  streams: Streams = processStreams
): Promise<number> {
  const redact = createRedactor()
  const err = (line: string): void => streams.stderr(`${redact.text(line)}\n`)
  let command: CommandLine
  let inputs: Inputs
  let members: SetMember[] | undefined
  try {
    command = parseCommandLine(argv, env)
    if (command.help) return (streams.stdout(HELP), EXIT.ok)
    if (command.version) return (streams.stdout(`${VERSION}\n`), EXIT.ok)
    const read = imagesReader(command, streams, passwordReader(command, env, streams, redact))
    const promotions = getPromotions(read, env)
    inputs = promotions[0].inputs
    if (read('images').trim()) members = promotions
    checkTokenSource(command, inputs, env)
  } catch (error) {
    if (error instanceof UsageError || error instanceof InputError) {
      const message = error instanceof InputError ? error.labelled(label) : error.message
      err(`ecr-promote: ${message}`)
      err('Run ecr-promote --help for usage.')
      return EXIT.usage
    }
    throw error
  }

  const controller = new AbortController()
  setMaxListeners(0, controller.signal)
  let signalled: NodeJS.Signals | undefined
  const cancel = (signal: NodeJS.Signals): void => {
    signalled = signal
    err(`received ${signal}: cancelling; no tag write is started after this point`)
    controller.abort(new Error(`cancelled by ${signal}`))
    // Some waits cannot be interrupted (a connection being opened): they must not hold the process.
    setTimeout(() => process.exit(signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm), 3000).unref()
  }
  process.once('SIGINT', cancel)
  process.once('SIGTERM', cancel)
  const network = readNetworkEnvironment(env)
  const dispatcher = new ProxyAwareDispatcher(readProxyEnvironment(env), network)
  const inActions = env.GITHUB_ACTIONS === 'true'
  try {
    const options = {
      reporter: createReporter(err, inActions, env),
      signal: controller.signal,
      dispatcher,
      network,
      sdk: bundledSdk,
      sigstore: bundledSigstore,
      onSecret: (secret: string) => redact.add(secret),
      getIdToken: idTokenSource(command, env, dispatcher),
      tokenSource: (command.webIdentityTokenEnv || command.webIdentityTokenFile ? 'other' : 'github') as
        'other' | 'github'
    }
    if (members) {
      const set = await promoteSet(members, options)
      for (const image of set.images) err(totals(image))
      writeSetResults(command, set, streams, redact)
      return EXIT.ok
    }
    const result = await promote(inputs, options)
    writeResults(command, result, streams, redact)
    return EXIT.ok
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    if (signalled) {
      err(`ecr-promote: promotion cancelled by ${signalled}: ${message}`)
      if (command.output === 'json')
        streams.stdout(
          `${redact.text(JSON.stringify({ result: 'failed', error: `cancelled by ${signalled}` }))}\n`
        )
      return signalled === 'SIGINT' ? EXIT.sigint : EXIT.sigterm
    }
    err(`ecr-promote: ${message}`)
    if (command.output === 'json')
      streams.stdout(`${redact.text(JSON.stringify({ result: 'failed', error: message }))}\n`)
    const kind = failureKind(error)
    return kind === 'conflict'
      ? EXIT.conflict
      : kind === 'access'
        ? EXIT.access
        : kind === 'gate'
          ? EXIT.gate
          : EXIT.failed
  } finally {
    process.removeListener('SIGINT', cancel)
    process.removeListener('SIGTERM', cancel)
    await dispatcher.destroy().catch(() => undefined)
  }
}

/** Flags as this front calls them; the passwords, which have no flag, by their variable. */
function label(name: string): string {
  return name.endsWith('-password') ? envName(name) : `--${name}`
}

/** The options model's reader, with a password from stdin when asked; every password is redacted. */
function passwordReader(command: CommandLine, env: NodeJS.ProcessEnv, streams: Streams, redact: Redactor) {
  let fromStdin: string | undefined
  if (command.passwordFromStdin) {
    fromStdin = streams.stdin().replace(/\r?\n$/, '')
    if (!fromStdin) throw new UsageError(`--${command.passwordFromStdin}-stdin: standard input was empty`)
  }
  for (const name of ['source-password', 'destination-password', 'github-token']) {
    const value = name === command.passwordFromStdin ? fromStdin : env[envName(name)]
    if (value) redact.add(value)
  }
  return (name: string): string =>
    name === command.passwordFromStdin ? (fromStdin ?? '') : command.read(name)
}

/**
 * `--images FILE` (or `-` for stdin) holds the set's lines; the options model reads their text. The
 * environment variable ECR_PROMOTE_IMAGES holds the lines themselves.
 */
function imagesReader(command: CommandLine, streams: Streams, read: (name: string) => string) {
  const flag = command.imagesFile
  if (!flag) return read
  if (flag === '-' && command.passwordFromStdin) {
    throw new UsageError(
      `--images - and --${command.passwordFromStdin}-stdin: standard input holds one of them`
    )
  }
  let text: string
  try {
    text = flag === '-' ? streams.stdin() : readFileSync(flag, 'utf8')
  } catch (error) {
    throw new UsageError(`--images ${flag}: cannot read it (${(error as Error).message})`)
  }
  if (!text.trim()) throw new UsageError(`--images ${flag}: it is empty; one SOURCE DESTINATION per line`)
  return (name: string): string => (name === 'images' ? text : read(name))
}

/** A role needs a token from somewhere: the flags, or GitHub's OIDC endpoint when run in Actions. */
function checkTokenSource(command: CommandLine, inputs: Inputs, env: NodeJS.ProcessEnv): void {
  if (inputs.dockerHubOidc && !env.ACTIONS_ID_TOKEN_REQUEST_URL) {
    throw new UsageError(
      '--dockerhub-oidc-connection-id: Docker Hub OIDC connections trust only GitHub Actions tokens today, and ' +
        'this run has none (outside GitHub Actions, or without permissions: id-token: write); use ' +
        `ECR_PROMOTE_${inputs.dockerHubOidc.side.toUpperCase()}_PASSWORD with an organisation access token here`
    )
  }
  if (command.webIdentityTokenEnv && command.webIdentityTokenFile) {
    throw new UsageError('--web-identity-token-env and --web-identity-token-file: give one of them')
  }
  if (command.webIdentityTokenEnv && !env[command.webIdentityTokenEnv]) {
    throw new UsageError(
      `--web-identity-token-env names ${command.webIdentityTokenEnv}, which is not set (GitLab: declare it under id_tokens)`
    )
  }
  if ((command.webIdentityTokenEnv || command.webIdentityTokenFile) && !inputs.aws.roleToAssume) {
    throw new UsageError(
      '--web-identity-token-env/--web-identity-token-file need --role-to-assume (the role to assume with the token)'
    )
  }
  if (
    inputs.aws.roleToAssume &&
    !command.webIdentityTokenEnv &&
    !command.webIdentityTokenFile &&
    !env.ACTIONS_ID_TOKEN_REQUEST_URL
  ) {
    throw new UsageError(
      '--role-to-assume needs a web identity token: give --web-identity-token-env NAME or --web-identity-token-file PATH ' +
        "(inside GitHub Actions, the job's OIDC token is used). Without --role-to-assume the AWS default credential chain " +
        'applies: environment keys, profiles, EKS IRSA and Pod Identity, ECS and EC2 roles'
    )
  }
}

function idTokenSource(command: CommandLine, env: NodeJS.ProcessEnv, dispatcher: ProxyAwareDispatcher) {
  return async (audience: string): Promise<string> => {
    // Docker Hub trusts GitHub's tokens only: its audience always goes to GitHub's endpoint.
    if (audience === DOCKER_OIDC_AUDIENCE) return fetchGithubIdToken(audience, env, dispatcher)
    if (command.webIdentityTokenEnv) return (env[command.webIdentityTokenEnv] ?? '').trim()
    if (command.webIdentityTokenFile) {
      // Read at the moment of use: projected tokens are rotated on disk.
      try {
        return readFileSync(command.webIdentityTokenFile, 'utf8').trim()
      } catch (error) {
        throw new Error(
          `--web-identity-token-file ${command.webIdentityTokenFile}: ${(error as Error).message}`
        )
      }
    }
    return fetchGithubIdToken(audience, env, dispatcher)
  }
}

function createReporter(err: (line: string) => void, inActions: boolean, env: NodeJS.ProcessEnv): Reporter {
  const debug = env.ECR_PROMOTE_DEBUG === 'true' || env.RUNNER_DEBUG === '1'
  return {
    debug: (message) => debug && err(`debug: ${message}`),
    info: (message) => err(message),
    warning: (message) => err(inActions ? `::warning::${message}` : `warning: ${message}`),
    group: async (name, task) => {
      err(inActions ? `::group::${name}` : `== ${name}`)
      try {
        return await task()
      } finally {
        if (inActions) err('::endgroup::')
      }
    }
  }
}

function writeSetResults(command: CommandLine, set: SetResult, streams: Streams, redact: Redactor): void {
  const line =
    command.output === 'json'
      ? JSON.stringify({ result: set.result, images: imagesOutput(set), durationMs: set.durationMs })
      : `release set: result ${set.result}; ${set.images.map((r) => `${r.repository} ${r.result}`).join(', ')}`
  streams.stdout(`${redact.text(line)}\n`)
  if (command.dotenv) {
    const first = set.images[0]
    const lines = [
      `ECR_PROMOTE_DIGEST=${first.digest}`,
      `ECR_PROMOTE_IMAGE=${first.image}`,
      `ECR_PROMOTE_RESULT=${set.result}`,
      `ECR_PROMOTE_TAGS=${first.tags.join(',')}`
    ]
    appendFileSync(command.dotenv, `${redact.text(lines.join('\n'))}\n`)
  }
  if (command.resultsDir)
    writeResults(
      { ...command, output: 'text', dotenv: undefined },
      set.images[0],
      { ...streams, stdout: () => undefined },
      redact
    )
}

function writeResults(command: CommandLine, result: PromoteResult, streams: Streams, redact: Redactor): void {
  const line = command.output === 'json' ? JSON.stringify(resultRecord(result)) : totals(result)
  streams.stdout(`${redact.text(line)}\n`)
  if (command.dotenv) {
    const lines = [
      `ECR_PROMOTE_DIGEST=${result.digest}`,
      `ECR_PROMOTE_IMAGE=${result.image}`,
      `ECR_PROMOTE_RESULT=${result.result}`,
      `ECR_PROMOTE_TAGS=${result.tags.join(',')}`
    ]
    appendFileSync(command.dotenv, `${redact.text(lines.join('\n'))}\n`)
  }
  if (command.resultsDir) {
    mkdirSync(command.resultsDir, { recursive: true })
    writeFileSync(join(command.resultsDir, 'IMAGE_DIGEST'), result.digest)
    const tag = result.tags[0]
    writeFileSync(
      join(command.resultsDir, 'IMAGE_URL'),
      tag ? `${result.repository}:${tag}` : result.repository
    )
  }
}
