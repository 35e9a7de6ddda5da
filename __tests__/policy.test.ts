import { describe, expect, test } from '@jest/globals'
import { decide, type TagState } from '../src/promotion/policy.js'

const A = 'sha256:' + 'a'.repeat(64)
const B = 'sha256:' + 'b'.repeat(64)
const g = (tag: string, current?: string): TagState => ({ tag, current, floating: false })
const f = (tag: string, current?: string): TagState => ({ tag, current, floating: true })

describe('decide', () => {
  test.each([
    ['new tag', [g('1.0')], 'fail', 'copy', ['1.0']],
    ['same digest is never a conflict', [g('1.0', A)], 'fail', 'unchanged', []],
    ['conflict fails', [g('1.0', B)], 'fail', 'fail', []],
    ['conflict skips', [g('1.0', B)], 'skip', 'skip', []],
    ['conflict overwritten', [g('1.0', B)], 'overwrite', 'copy', ['1.0']],
    ['one of two conflicts: nothing written', [g('1.0'), g('1', B)], 'fail', 'fail', []],
    ['floating tag moves, never conflicts', [g('1.0', A), f('latest', B)], 'fail', 'copy', ['latest']],
    ['floating tags after guarded', [f('latest'), g('1.0')], 'fail', 'copy', ['1.0', 'latest']],
    ['everything in place', [g('1.0', A), f('latest', A)], 'skip', 'unchanged', []],
    ['skip with a floating tag elsewhere', [g('1.0'), f('latest', B)], 'skip', 'copy', ['1.0', 'latest']],
    [
      'overwrite writes only what differs',
      [g('1.0', A), g('1', B), g('1.0.0')],
      'overwrite',
      'copy',
      ['1', '1.0.0']
    ]
  ] as const)('%s', (_name, states, ifExists, action, write) => {
    const decision = decide(A, [...states], ifExists)
    expect(decision.action).toBe(action)
    expect(decision.write).toEqual(write)
  })

  test('reports conflicts and tags already in place', () => {
    const decision = decide(A, [g('1.0', A), g('1', B)], 'fail')
    expect(decision.conflicts.map((c) => c.tag)).toEqual(['1'])
    expect(decision.alreadyThere).toEqual(['1.0'])
  })
})
