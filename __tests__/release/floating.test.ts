import { describe, expect, test } from '@jest/globals'
import { decideFloating, deriveFloatingTags, type Derived } from '../../src/promotion/floating.js'

const derive = (tags: string[]): Derived => {
  const derived = deriveFloatingTags(tags)
  if (!derived) throw new Error(`${tags.join(', ')} derives nothing`)
  return derived
}

describe('deriveFloatingTags', () => {
  test.each([
    [['1.4.2'], '1.4.2', ['latest', '1', '1.4']],
    [['v1.4.2'], 'v1.4.2', ['latest', 'v1', 'v1.4']],
    [['stable', '1.4.2'], '1.4.2', ['latest', '1', '1.4']],
    [['main', 'sha-abc', 'v2.0.1', '1.4.2'], 'v2.0.1', ['latest', 'v2', 'v2.0']],
    [['2.0.0-rc.1'], '2.0.0-rc.1', ['latest', '2', '2.0']],
    [['1.4.2+build.7'], '1.4.2+build.7', ['latest', '1', '1.4']],
    [['0.3.1'], '0.3.1', ['latest', '0', '0.3']]
  ])('%p → version %s, tags %p', (tags, version, derived) => {
    const result = derive(tags)
    expect(result.version.tag).toBe(version)
    expect(result.tags).toEqual([
      { tag: derived[0], range: 'all' },
      { tag: derived[1], range: 'major' },
      { tag: derived[2], range: 'minor' }
    ])
  })

  test.each([[[]], [['latest']], [['stable', 'main', '1.4', 'sha-abc']], [['01.2.3', '1.2.3.4']]])(
    '%p → undefined',
    (tags) => {
      expect(deriveFloatingTags(tags)).toBeUndefined()
    }
  )
})

describe('decideFloating', () => {
  type Row = [string, string[], string[], [string, boolean, string][]]
  const rows: Row[] = [
    [
      'hotfix below latest: only the minor moves',
      ['1.2.5'],
      ['1.2.4', '1.3.0', 'latest', '1', '1.2', '1.3'],
      [
        ['latest', false, 'latest stays at 1.3.0: 1.3.0 is newer than 1.2.5'],
        ['1', false, '1 stays at 1.3.0: 1.3.0 is newer than 1.2.5'],
        ['1.2', true, '1.2 moves: 1.2.5 is the newest release of 1.2.x']
      ]
    ],
    [
      'newer release: all move',
      ['1.4.0'],
      ['1.2.4', '1.3.0', 'latest', '1', '1.3'],
      [
        ['latest', true, 'latest moves: 1.4.0 is the newest release'],
        ['1', true, '1 moves: 1.4.0 is the newest release of 1.x'],
        ['1.4', true, '1.4 moves: 1.4.0 is the newest release of 1.4.x']
      ]
    ],
    [
      'pre-release: none move',
      ['2.0.0-rc.1'],
      ['1.3.0', 'latest'],
      [
        ['latest', false, 'latest stays: 2.0.0-rc.1 is a pre-release'],
        ['2', false, '2 stays: 2.0.0-rc.1 is a pre-release'],
        ['2.0', false, '2.0 stays: 2.0.0-rc.1 is a pre-release']
      ]
    ],
    [
      'pre-release into an empty repository: none move',
      ['1.0.0-beta'],
      [],
      [
        ['latest', false, 'latest stays: 1.0.0-beta is a pre-release'],
        ['1', false, '1 stays: 1.0.0-beta is a pre-release'],
        ['1.0', false, '1.0 stays: 1.0.0-beta is a pre-release']
      ]
    ],
    [
      'equal to the newest (a re-run): all move',
      ['1.3.0'],
      ['1.2.4', '1.3.0', 'latest'],
      [
        ['latest', true, 'latest moves: 1.3.0 is the newest release'],
        ['1', true, '1 moves: 1.3.0 is the newest release of 1.x'],
        ['1.3', true, '1.3 moves: 1.3.0 is the newest release of 1.3.x']
      ]
    ],
    [
      'empty repository: all move',
      ['1.0.0'],
      [],
      [
        ['latest', true, 'latest moves: 1.0.0 is the newest release'],
        ['1', true, '1 moves: 1.0.0 is the newest release of 1.x'],
        ['1.0', true, '1.0 moves: 1.0.0 is the newest release of 1.0.x']
      ]
    ],
    [
      'v-prefixed release: derived tags keep the prefix',
      ['v1.4.2'],
      ['v1.4.1', 'v1.3.0'],
      [
        ['latest', true, 'latest moves: 1.4.2 is the newest release'],
        ['v1', true, 'v1 moves: 1.4.2 is the newest release of 1.x'],
        ['v1.4', true, 'v1.4 moves: 1.4.2 is the newest release of 1.4.x']
      ]
    ],
    [
      'the v prefix does not change the order',
      ['1.4.0'],
      ['v2.1.0', '1.3.0'],
      [
        ['latest', false, 'latest stays at 2.1.0: 2.1.0 is newer than 1.4.0'],
        ['1', true, '1 moves: 1.4.0 is the newest release of 1.x'],
        ['1.4', true, '1.4 moves: 1.4.0 is the newest release of 1.4.x']
      ]
    ],
    [
      'a plain release is measured against v-prefixed tags',
      ['v1.4.0'],
      ['1.4.3', '1.5.0'],
      [
        ['latest', false, 'latest stays at 1.5.0: 1.5.0 is newer than 1.4.0'],
        ['v1', false, 'v1 stays at 1.5.0: 1.5.0 is newer than 1.4.0'],
        ['v1.4', false, 'v1.4 stays at 1.4.3: 1.4.3 is newer than 1.4.0']
      ]
    ],
    [
      'non-semver and pre-release tags are ignored when finding the newest',
      ['1.4.3'],
      ['latest', 'main', 'sha-abc', '9.9', '10', '01.2.3', '1.2.3.4', '2.0.0-rc.1', '1.5.0-beta', '1.4.2'],
      [
        ['latest', true, 'latest moves: 1.4.3 is the newest release'],
        ['1', true, '1 moves: 1.4.3 is the newest release of 1.x'],
        ['1.4', true, '1.4 moves: 1.4.3 is the newest release of 1.4.x']
      ]
    ],
    [
      'build metadata does not make an equal version newer',
      ['1.4.2'],
      ['1.4.2+build.7'],
      [
        ['latest', true, 'latest moves: 1.4.2 is the newest release'],
        ['1', true, '1 moves: 1.4.2 is the newest release of 1.x'],
        ['1.4', true, '1.4 moves: 1.4.2 is the newest release of 1.4.x']
      ]
    ],
    [
      'newest numerically, not as text',
      ['1.9.0'],
      ['1.10.0', '1.9.1'],
      [
        ['latest', false, 'latest stays at 1.10.0: 1.10.0 is newer than 1.9.0'],
        ['1', false, '1 stays at 1.10.0: 1.10.0 is newer than 1.9.0'],
        ['1.9', false, '1.9 stays at 1.9.1: 1.9.1 is newer than 1.9.0']
      ]
    ],
    [
      'an older major line after a newer one: only its own ranges move',
      ['1.5.0'],
      ['2.0.0', '1.4.9'],
      [
        ['latest', false, 'latest stays at 2.0.0: 2.0.0 is newer than 1.5.0'],
        ['1', true, '1 moves: 1.5.0 is the newest release of 1.x'],
        ['1.5', true, '1.5 moves: 1.5.0 is the newest release of 1.5.x']
      ]
    ],
    [
      'the first guarded tag that is semver is used',
      ['stable', '1.4.2'],
      ['1.4.1'],
      [
        ['latest', true, 'latest moves: 1.4.2 is the newest release'],
        ['1', true, '1 moves: 1.4.2 is the newest release of 1.x'],
        ['1.4', true, '1.4 moves: 1.4.2 is the newest release of 1.4.x']
      ]
    ]
  ]
  test.each(rows)('%s', (_name, guarded, existing, expected) => {
    const decisions = decideFloating(derive(guarded), existing)
    expect(decisions.map((d) => [d.tag, d.moves, d.reason])).toEqual(expected)
  })
})
