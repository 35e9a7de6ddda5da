// Runs the committed bundle as the GitHub runner does: INPUT_* variables, GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files, a fresh process.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const BUNDLE = join(ROOT, 'dist', 'index.js')
const TIME = '/usr/bin/time'

/**
 * inputs: { source: '...', 'if-exists': 'skip', ... } (names as in action.yml).
 * options.measure: run under GNU time and report peak RSS (KiB) and CPU seconds.
 * options.onSpawn: called with the child process (to signal it, say).
 * @param {Record<string, string | undefined>} inputs
 * @param {{ env?: Record<string, string>, measure?: boolean, timeoutMs?: number, onSpawn?: (child: import('node:child_process').ChildProcess) => void }} [options]
 */
export async function runAction(inputs, { env = {}, measure = false, timeoutMs = 600_000, onSpawn } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ecr-promote-run-'))
  const outputFile = join(dir, 'output')
  const summaryFile = join(dir, 'summary')
  const timeFile = join(dir, 'time')
  writeFileSync(outputFile, '')
  writeFileSync(summaryFile, '')
  const childEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: dir,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...env
  }
  for (const [name, value] of Object.entries(inputs)) {
    if (value !== undefined) childEnv[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = String(value)
  }
  if (measure && !existsSync(TIME))
    throw new Error(`${TIME} is missing; install it with: sudo apt-get install -y time`)
  const [command, args] = measure
    ? [TIME, ['-f', '%M %U %S %e', '-o', timeFile, process.execPath, BUNDLE]]
    : [process.execPath, [BUNDLE]]
  const started = Date.now()
  const child = spawn(command, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  onSpawn?.(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise((resolveExit) => child.on('close', (c, signal) => resolveExit(c ?? signal)))
  clearTimeout(timer)
  const wallMs = Date.now() - started
  const outputs = parseOutputs(readFileSync(outputFile, 'utf8'))
  const summary = readFileSync(summaryFile, 'utf8')
  let usage
  if (measure) {
    const [maxRssKiB, user, system, elapsed] = readFileSync(timeFile, 'utf8')
      .trim()
      .split('\n')
      .pop()
      .split(' ')
      .map(Number)
    usage = { maxRssKiB, cpuSeconds: user + system, elapsedSeconds: elapsed }
  }
  rmSync(dir, { recursive: true, force: true })
  return { code, stdout, stderr, outputs, summary, wallMs, usage }
}

/** Parses `name<<DELIM\nvalue\nDELIM` and `name=value` lines of a GITHUB_OUTPUT file. */
export function parseOutputs(text) {
  /** @type {Record<string, string>} */
  const outputs = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc) {
      const value = []
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) value.push(lines[i])
      outputs[heredoc[1]] = value.join('\n')
    } else if (line.includes('=')) {
      const at = line.indexOf('=')
      outputs[line.slice(0, at)] = line.slice(at + 1)
    }
  }
  return outputs
}

/** The `::error::` lines a run printed (what the runner shows as annotations). */
export function errorsOf(run) {
  return run.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error'))
    .map((l) => l.replace(/^::error[^:]*::/, ''))
}
