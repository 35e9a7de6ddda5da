// The job summary of a release set: one table for the set (each image, its digest, result and tags),
// then each image's own detail as a single promotion's summary has it.
import * as core from '@actions/core'
import { displayReference } from '../promotion/promote.js'
import type { SetMember, SetProgress, SetResult } from '../promotion/set.js'
import { escape, writeSummary } from './summary.js'

export interface SetSummaryInput {
  members: SetMember[]
  progress: SetProgress
  result?: SetResult
  error?: Error
}

export async function writeSetSummary({ members, progress, result, error }: SetSummaryInput): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return
  const summary = core.summary
  const dryRun = members[0]?.inputs.dryRun ? ' (dry run)' : ''
  summary.addHeading(`ecr-promote release set: ${result ? result.result : 'failed'}${dryRun}`, 3)
  if (error) summary.addRaw(`<p>${escape(error.message)}</p>`, true)
  summary.addTable([
    [
      { data: 'Line', header: true },
      { data: 'Source', header: true },
      { data: 'Destination', header: true },
      { data: 'Digest', header: true },
      { data: 'Result', header: true },
      { data: 'Tags', header: true }
    ],
    ...members.map((member, i) => {
      const image = result?.images[i]
      const state = progress.members[i].progress
      const digest = image?.digest ?? state.digest
      const tags = image ? image.tags : state.written
      return [
        String(member.line ?? i + 1),
        code(displayReference(member.inputs.source)),
        code(displayReference(member.inputs.destination)),
        digest ? code(digest) : '—',
        escape(
          image
            ? image.result
            : error
              ? state.written.length
                ? `wrote ${state.written.length} tag(s) before the set failed`
                : 'not tagged'
              : '—'
        ),
        tags.length ? tags.map(code).join(', ') : '—'
      ]
    })
  ])
  await summary.write()
  for (const [i, member] of members.entries()) {
    await writeSummary({
      inputs: member.inputs,
      result: result?.images[i],
      progress: progress.members[i].progress,
      error: result ? undefined : error
    })
  }
}

function code(text: string): string {
  return `<code>${escape(text)}</code>`
}
