// `floating-tags: auto`: latest, MAJOR and MAJOR.MINOR derived from the release being promoted, each
// moved only when that release is the newest stable one in its range among the destination's tags
// (so a 1.3.9 hotfix promoted after 1.4.0 moves `1.3` and leaves `1` and `latest` where they are).
import { compareVersions, formatVersion, isStable, parseVersion, type Version } from './semver.js'

export interface FloatingDecision {
  tag: string
  moves: boolean
  /** Why it stays (`latest stays at 1.5.0: 1.5.0 is newer than 1.4.3`), or why it moves. */
  reason: string
}

export interface Derived {
  version: Version
  /** latest, then MAJOR, then MAJOR.MINOR, in the release's prefix style. */
  tags: { tag: string; range: 'all' | 'major' | 'minor' }[]
}

/** The floating tags the first semantic-version tag derives; undefined when no tag is one. */
export function deriveFloatingTags(tags: string[]): Derived | undefined {
  const version = tags.map(parseVersion).find((v) => v !== undefined)
  if (!version) return undefined
  const p = version.prefix
  return {
    version,
    tags: [
      { tag: 'latest', range: 'all' },
      { tag: `${p}${version.major}`, range: 'major' },
      { tag: `${p}${version.major}.${version.minor}`, range: 'minor' }
    ]
  }
}

/** For each derived tag: does it move, given every tag the destination repository has? */
export function decideFloating(derived: Derived, existing: string[]): FloatingDecision[] {
  const promoted = derived.version
  const releases = existing.map(parseVersion).filter((v): v is Version => v !== undefined && isStable(v))
  return derived.tags.map(({ tag, range }) => {
    if (!isStable(promoted)) {
      return { tag, moves: false, reason: `${tag} stays: ${formatVersion(promoted)} is a pre-release` }
    }
    const inRange = releases.filter(
      (v) =>
        range === 'all' || (v.major === promoted.major && (range === 'major' || v.minor === promoted.minor))
    )
    const newest = inRange.reduce<Version | undefined>(
      (best, v) => (!best || compareVersions(v, best) > 0 ? v : best),
      undefined
    )
    if (newest && compareVersions(newest, promoted) > 0) {
      const at = formatVersion(newest)
      return {
        tag,
        moves: false,
        reason: `${tag} stays at ${at}: ${at} is newer than ${formatVersion(promoted)}`
      }
    }
    const where =
      range === 'all'
        ? ''
        : ` of ${range === 'major' ? `${promoted.major}.x` : `${promoted.major}.${promoted.minor}.x`}`
    return {
      tag,
      moves: true,
      reason: `${tag} moves: ${formatVersion(promoted)} is the newest release${where}`
    }
  })
}
