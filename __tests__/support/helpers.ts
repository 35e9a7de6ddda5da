// Shared test plumbing: inputs from a plain object, a reporter that records what it was told.
import { getInputs, type Inputs } from '../../src/context.js'
import type { Reporter } from '../../src/promote.js'

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
