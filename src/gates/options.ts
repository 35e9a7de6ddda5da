// The gates' options, read with the same rules in every front: `require-signature-key` (PEM text or
// files), `fail-on-scan-severity` and `scan-wait-seconds`. A gate left empty is off.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { KeyError, parsePublicKeys, type TrustedKey } from './keys.js'
import { InputError, type Read } from '../promotion/options.js'
import { printable } from '../registry/index.js'

/**
 * What a signature must satisfy. Keys today; keyless identities (`require-signature-identity`,
 * which needs Sigstore's public trust root over the network) would add an `identities` list here.
 */
export interface SignatureRequirement {
  keys: TrustedKey[]
}

export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'] as const
export type GateSeverity = (typeof SEVERITIES)[number]

export interface ScanRequirement {
  /** Findings at or above this fail the gate. */
  severity: GateSeverity
  /** How long to wait for a scan in progress (0: look once). */
  waitSeconds: number
}

export interface Gates {
  signature?: SignatureRequirement
  scan?: ScanRequirement
}

/** A whole PEM block, for telling PEM text from file paths. */
const PEM_TEXT = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g

export const DEFAULT_SCAN_WAIT_SECONDS = 300
export const MAX_SCAN_WAIT_SECONDS = 3600

export function getGates(read: Read, cwd: string = process.cwd()): Gates {
  const gates: Gates = {}
  const keys = readKeys(read('require-signature-key'), cwd)
  if (keys.length) gates.signature = { keys }
  const severity = read('fail-on-scan-severity').trim().toUpperCase()
  const waitRaw = read('scan-wait-seconds').trim()
  if (severity) {
    if (!(SEVERITIES as readonly string[]).includes(severity)) {
      throw new InputError(
        'fail-on-scan-severity',
        `is "${printable(severity.toLowerCase())}"; allowed: critical, high, medium, low (or empty for no scan gate)`
      )
    }
    gates.scan = { severity: severity as GateSeverity, waitSeconds: parseWait(waitRaw) }
  } else if (waitRaw) {
    parseWait(waitRaw)
  }
  return gates
}

function parseWait(raw: string): number {
  if (!raw) return DEFAULT_SCAN_WAIT_SECONDS
  if (!/^\d+$/.test(raw) || Number(raw) > MAX_SCAN_WAIT_SECONDS) {
    throw new InputError(
      'scan-wait-seconds',
      `is "${printable(raw)}"; it must be a whole number of seconds from 0 to ${MAX_SCAN_WAIT_SECONDS}`
    )
  }
  return Number(raw)
}

/**
 * PEM blocks given as text, and file paths (relative to the workspace) on the lines outside them,
 * each file holding PEM: both may be mixed (the CLI's repeated flag).
 */
function readKeys(raw: string, cwd: string): TrustedKey[] {
  if (!raw.trim()) return []
  const found: Omit<TrustedKey, 'label'>[] = []
  try {
    const blocks = raw.match(PEM_TEXT) ?? []
    if (blocks.length) found.push(...parsePublicKeys(blocks.join('\n'), (i) => `PEM block ${i}`, 'the value'))
    const rest = raw.replace(PEM_TEXT, '\n')
    if (rest.includes('-----BEGIN')) {
      throw new KeyError('holds an unfinished PEM block (-----BEGIN without its matching -----END)')
    }
    const paths = rest
      .split(/[\r\n]+/)
      .map((l) => l.trim())
      .filter(Boolean)
    for (const line of paths) {
      let text: string
      try {
        text = readFileSync(resolve(cwd, line), 'utf8')
      } catch (error) {
        const code = (error as { code?: string }).code
        throw new KeyError(
          `file "${printable(line)}" cannot be read (${code ?? (error as Error).message}); ` +
            'give PEM text (-----BEGIN PUBLIC KEY-----) or a path relative to the workspace'
        )
      }
      found.push(
        ...parsePublicKeys(
          text,
          (i) => `${printable(line)}${i > 1 ? ` block ${i}` : ''}`,
          `file "${printable(line)}"`
        )
      )
    }
  } catch (error) {
    if (error instanceof KeyError) throw new InputError('require-signature-key', error.message)
    throw error
  }
  const unique = found.filter((k, i) => found.findIndex((o) => o.fingerprint === k.fingerprint) === i)
  return unique.map((k, i) => ({ ...k, label: `key ${i + 1}` }))
}
