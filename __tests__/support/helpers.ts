// Shared test plumbing: inputs from a plain object, a reporter that records what it was told.
import { expect } from '@jest/globals'
import { getInputs, type Inputs } from '../../src/promotion/options.js'
import type { Reporter } from '../../src/promotion/promote.js'

export function inputsFrom(values: Record<string, string | undefined>): Inputs {
  return getInputs((name) => values[name] ?? '')
}

export interface RecordingReporter extends Reporter {
  lines: string[]
}

export function recordingReporter(): RecordingReporter {
  const lines: string[] = []
  return {
    lines,
    debug: (m) => lines.push(`debug: ${m}`),
    info: (m) => lines.push(m),
    warning: (m) => lines.push(`warning: ${m}`),
    group: async (name, task) => {
      lines.push(`group: ${name}`)
      return task()
    }
  }
}

/** Everything a run printed or output, less the ::add-mask:: lines that tell the runner what to hide. */
export function visibleOutput(run: {
  stdout: string
  stderr: string
  summary: string
  outputs: Record<string, string>
}): string {
  return [run.stdout, run.stderr, run.summary, JSON.stringify(run.outputs)]
    .join('\n')
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n')
}

/** Fails when any secret, plain or base64 (alone or as `user:secret`), appears in what a run showed. */
export function expectNoSecrets(
  run: { stdout: string; stderr: string; summary: string; outputs: Record<string, string> },
  secrets: string[]
): void {
  const visible = visibleOutput(run)
  for (const secret of secrets) {
    expect(visible).not.toContain(secret)
    expect(visible).not.toContain(Buffer.from(secret).toString('base64'))
    for (const user of ['promoter', 'reader', 'AWS']) {
      expect(visible).not.toContain(Buffer.from(`${user}:${secret}`).toString('base64'))
    }
  }
}
