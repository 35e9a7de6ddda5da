// What to do about tags that already exist at the destination.
import type { IfExists } from './options.js'

export interface TagState {
  tag: string
  /** The digest the tag points at now; undefined when the tag does not exist. */
  current?: string
  /** Floating tags (latest, 1, 1.4) always move; they are never a conflict. */
  floating: boolean
}

export type Action = 'copy' | 'unchanged' | 'skip' | 'fail'

export interface Decision {
  action: Action
  /** Tags to write, guarded first, then floating. Empty unless action is copy. */
  write: string[]
  /** Guarded tags that point at another digest. */
  conflicts: TagState[]
  /** Tags already pointing at the promoted digest. */
  alreadyThere: string[]
}

export function decide(digest: string, states: TagState[], ifExists: IfExists): Decision {
  const alreadyThere = states.filter((s) => s.current === digest).map((s) => s.tag)
  const conflicts = states.filter((s) => !s.floating && s.current !== undefined && s.current !== digest)
  if (conflicts.length > 0 && ifExists === 'fail')
    return { action: 'fail', write: [], conflicts, alreadyThere }
  if (conflicts.length > 0 && ifExists === 'skip')
    return { action: 'skip', write: [], conflicts, alreadyThere }
  const pending = states.filter((s) => s.current !== digest)
  const write = [...pending.filter((s) => !s.floating), ...pending.filter((s) => s.floating)].map(
    (s) => s.tag
  )
  return { action: write.length === 0 ? 'unchanged' : 'copy', write, conflicts, alreadyThere }
}

export function describeConflicts(digest: string, conflicts: TagState[]): string {
  return conflicts
    .map((c) => `tag "${c.tag}" points at ${c.current}, not at the promoted ${digest}`)
    .join('; ')
}
