// Semantic versions as release tags carry them (`1.4.2`, `v1.4.2`, `1.5.0-rc.1`, `1.4.2+build.7`):
// parsed, and ordered by semver 2.0.0 precedence. The `v` prefix and build metadata do not count.

export interface Version {
  major: number
  minor: number
  patch: number
  /** Pre-release identifiers (`rc`, `1`); empty for a stable release. */
  prerelease: string[]
  /** `v` when the tag was written so. */
  prefix: '' | 'v'
  tag: string
}

const SEMVER =
  /^(v?)(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/

/** The version a tag names; undefined for anything that is not MAJOR.MINOR.PATCH semver. */
export function parseVersion(tag: string): Version | undefined {
  const m = SEMVER.exec(tag)
  if (!m) return undefined
  const numbers = [m[2], m[3], m[4]].map(Number)
  if (!numbers.every(Number.isSafeInteger)) return undefined
  return {
    major: numbers[0],
    minor: numbers[1],
    patch: numbers[2],
    prerelease: m[5] ? m[5].split('.') : [],
    prefix: m[1] === 'v' ? 'v' : '',
    tag
  }
}

export function isStable(version: Version): boolean {
  return version.prerelease.length === 0
}

/** Negative when a < b, positive when a > b, 0 when they are the same version. */
export function compareVersions(a: Version, b: Version): number {
  for (const key of ['major', 'minor', 'patch'] as const) {
    if (a[key] !== b[key]) return a[key] - b[key]
  }
  // A pre-release is lower than its release; identifiers compare numerically where both are numbers.
  if (!a.prerelease.length || !b.prerelease.length) return b.prerelease.length - a.prerelease.length
  for (let i = 0; i < Math.max(a.prerelease.length, b.prerelease.length); i++) {
    const x = a.prerelease[i]
    const y = b.prerelease[i]
    if (x === undefined) return -1
    if (y === undefined) return 1
    if (x === y) continue
    const nx = /^\d+$/.test(x)
    const ny = /^\d+$/.test(y)
    if (nx && ny) return Number(x) - Number(y)
    if (nx) return -1
    if (ny) return 1
    return x < y ? -1 : 1
  }
  return 0
}

/** `1.4.2` for a version, whatever its prefix or build metadata. */
export function formatVersion(v: Version): string {
  return `${v.major}.${v.minor}.${v.patch}${v.prerelease.length ? `-${v.prerelease.join('.')}` : ''}`
}
