// The action's inputs as the runner gives them: read, masked before anything can print them, checked
// for misspelt names, then validated by the one options model.
import * as core from '@actions/core'
import { getPromotions, INPUT_NAMES } from '../promotion/options.js'
import type { SetMember } from '../promotion/set.js'
import { printable } from '../registry/index.js'

/** Reads every input; the passwords are masked first, so that nothing (even an error) can print them. */
export function readInputs(env: NodeJS.ProcessEnv = process.env): { members: SetMember[]; set: boolean } {
  for (const name of ['source-password', 'destination-password', 'github-token']) {
    const secret = core.getInput(name)
    if (secret) core.setSecret(secret)
  }
  const members = getPromotions((name) => core.getInput(name), env)
  return { members, set: core.getInput('images').trim() !== '' }
}

/**
 * Warnings for INPUT_* variables that are none of our inputs: a misspelt `with:` key
 * (`floating_tags`) is otherwise ignored without a word. The runner names an input
 * INPUT_<NAME upper-cased, spaces as _>, so that is what is compared.
 */
export function unknownInputWarnings(env: NodeJS.ProcessEnv = process.env): string[] {
  const known = new Map(INPUT_NAMES.map((name) => [envName(name), name]))
  const warnings: string[] = []
  for (const variable of Object.keys(env)) {
    if (!variable.startsWith('INPUT_') || known.has(variable)) continue
    const given = variable.slice('INPUT_'.length).toLowerCase()
    const nearest = nearestInput(given)
    warnings.push(
      `"${printable(given)}" is not an input of this action and is ignored` +
        (nearest ? `; did you mean "${nearest}"?` : `; the inputs are: ${INPUT_NAMES.join(', ')}`)
    )
  }
  return warnings
}

function envName(input: string): string {
  return `INPUT_${input.replace(/ /g, '_').toUpperCase()}`
}

function nearestInput(given: string): string | undefined {
  const normal = given.replace(/[_\s]/g, '-')
  let best: { name: string; distance: number } | undefined
  for (const name of INPUT_NAMES) {
    const distance = editDistance(normal, name)
    if (!best || distance < best.distance) best = { name, distance }
  }
  return best && best.distance <= Math.max(2, Math.floor(best.name.length / 3)) ? best.name : undefined
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)
      )
    }
    previous = current
  }
  return previous[b.length]
}
