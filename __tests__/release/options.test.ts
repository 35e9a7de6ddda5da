import { describe, expect, test } from '@jest/globals'
import {
  getInputs,
  getPromotions,
  InputError,
  parseImageLines,
  type Read
} from '../../src/promotion/options.js'

const ECR = '123456789012.dkr.ecr.us-east-1.amazonaws.com'
const HUB = 'registry-1.docker.io'

const reader =
  (values: Record<string, string>): Read =>
  (name) =>
    values[name] ?? ''

/** The InputError `run` throws; fails the test when it throws nothing or something else. */
function inputError(run: () => unknown): InputError {
  try {
    run()
  } catch (error) {
    if (error instanceof InputError) return error
    throw error
  }
  throw new Error('expected an InputError, nothing was thrown')
}

describe('parseImageLines', () => {
  test.each([
    ['one line', 'a:1 b', [[1, 'a:1', 'b']]],
    [
      'blank lines keep their numbers',
      '\n\na:1 b\n\n  \nc:2 d\n',
      [
        [3, 'a:1', 'b'],
        [6, 'c:2', 'd']
      ]
    ],
    [
      'comment lines ignored',
      '# the release\na:1 b\n  # indented\nc:2 d',
      [
        [2, 'a:1', 'b'],
        [4, 'c:2', 'd']
      ]
    ],
    [
      'trailing comments ignored',
      'a:1 b # api\nc:2\td\t# web',
      [
        [1, 'a:1', 'b'],
        [2, 'c:2', 'd']
      ]
    ],
    ['tabs and runs of spaces separate', '\ta:1\t\t b  \t', [[1, 'a:1', 'b']]],
    [
      'CRLF line ends',
      'a:1 b\r\nc:2 d\r\n',
      [
        [1, 'a:1', 'b'],
        [2, 'c:2', 'd']
      ]
    ]
  ] as const)('%s', (_name, raw, expected) => {
    expect(parseImageLines(raw)).toEqual(
      expected.map(([line, source, destination]) => ({ line, source, destination }))
    )
  })

  test.each([
    ['one field', 'a:1 b\nc:2', 2, 'c:2'],
    ['three fields', '# set\n\na:1 b c', 3, 'a:1 b c'],
    ['three fields before a comment', 'a:1 b c # note', 1, 'a:1 b c']
  ])('%s: the error names the line', (_name, raw, line, content) => {
    const error = inputError(() => parseImageLines(raw))
    expect(error.input).toBe('images')
    expect(error.message).toContain(`line ${line} is "${content}"`)
    expect(error.message).toContain('SOURCE DESTINATION')
  })

  test.each(['', '\n  \n', '# only a comment\n\t# and another'])('%p has no line', (raw) => {
    const error = inputError(() => parseImageLines(raw))
    expect(error.message).toBe('Input "images" has no SOURCE DESTINATION line')
  })
})

describe('getPromotions', () => {
  test('without images: one promotion from source and destination, no line', () => {
    const promotions = getPromotions(
      reader({ source: `${ECR}/api:1.4.2`, destination: 'docker.io/acme/api' }),
      {}
    )
    expect(promotions).toHaveLength(1)
    expect(promotions[0].line).toBeUndefined()
    expect(promotions[0].inputs.destination).toMatchObject({ registry: HUB, repository: 'acme/api' })
    expect(promotions[0].inputs.tags).toEqual(['1.4.2'])
  })

  test('one promotion per line, every other input shared', () => {
    const promotions = getPromotions(
      reader({
        images: `# release 1.4.2\n${ECR}/api:1.4.2 docker.io/acme/api\n\n${ECR}/web:1.4.2 docker.io/acme/web # web\n`,
        tags: '1.4.2,1.4',
        'floating-tags': 'latest',
        'if-exists': 'skip',
        'dry-run': 'true'
      }),
      {}
    )
    expect(
      promotions.map(({ line, inputs }) => ({
        line,
        source: inputs.source.repository,
        destination: inputs.destination.repository,
        tags: inputs.tags,
        floatingTags: inputs.floatingTags,
        ifExists: inputs.ifExists,
        dryRun: inputs.dryRun
      }))
    ).toEqual([
      {
        line: 2,
        source: 'api',
        destination: 'acme/api',
        tags: ['1.4.2', '1.4'],
        floatingTags: ['latest'],
        ifExists: 'skip',
        dryRun: true
      },
      {
        line: 4,
        source: 'web',
        destination: 'acme/web',
        tags: ['1.4.2', '1.4'],
        floatingTags: ['latest'],
        ifExists: 'skip',
        dryRun: true
      }
    ])
  })

  test("without tags, each line's default is its own destination's tag, else its source's", () => {
    const promotions = getPromotions(
      reader({ images: `${ECR}/api:1.4.2 docker.io/acme/api:stable\n${ECR}/web:1.4.3 docker.io/acme/web` }),
      {}
    )
    expect(promotions.map((p) => p.inputs.tags)).toEqual([['stable'], ['1.4.3']])
  })

  test.each(['source', 'destination'])('images together with %s is an error', (name) => {
    const error = inputError(() =>
      getPromotions(reader({ images: `${ECR}/api:1.4.2 docker.io/acme/api`, [name]: `${ECR}/web:1.4.2` }), {})
    )
    expect(error.input).toBe('images')
    expect(error.message).toBe(
      `Input "images" is given together with ${name}; give images, or source and destination`
    )
  })

  test.each([
    [
      'an invalid source',
      `${ECR}/api:1.4.2 docker.io/acme/api\n${ECR}/API:1.4.2 docker.io/acme/web`,
      'source'
    ],
    [
      'a source without tag or digest',
      `${ECR}/api:1.4.2 docker.io/acme/api\n${ECR}/web docker.io/acme/web`,
      'source'
    ],
    [
      'a destination with a digest',
      `${ECR}/api:1.4.2 docker.io/acme/api\n${ECR}/web:1 docker.io/acme/web@sha256:${'a'.repeat(64)}`,
      'destination'
    ],
    [
      'a Docker Hub library/ destination',
      `${ECR}/api:1.4.2 docker.io/acme/api\n${ECR}/web:1 nginx`,
      'destination'
    ]
  ])('%s on line 2: the error names the line', (_name, images, input) => {
    const error = inputError(() => getPromotions(reader({ images }), {}))
    expect(error.input).toBe('images')
    expect(error.message).toMatch(new RegExp(`^Input "images" line 2: ${input} `))
  })

  test('a line with the wrong number of fields is an error naming it', () => {
    const error = inputError(() =>
      getPromotions(reader({ images: `${ECR}/api:1.4.2 docker.io/acme/api\n\n${ECR}/web:1.4.2` }), {})
    )
    expect(error.message).toContain('line 3 is')
  })

  test('two lines writing the same destination tag: the error names both', () => {
    const error = inputError(() =>
      getPromotions(
        reader({
          images: [
            `${ECR}/api:1.4.2 docker.io/acme/api`,
            `${ECR}/web:1.4.2 docker.io/acme/web`,
            `${ECR}/api-next:1.4.2 docker.io/acme/api`
          ].join('\n'),
          tags: '1.4.2'
        }),
        {}
      )
    )
    expect(error.input).toBe('images')
    expect(error.message).toMatch(/line 3 writes .*acme\/api:1\.4\.2, as line 1 does/)
  })

  test('two lines sharing a floating tag on one destination also clash', () => {
    const error = inputError(() =>
      getPromotions(
        reader({
          images: `${ECR}/api:1.4.2 docker.io/acme/api:1.4.2\n${ECR}/api:1.3.9 docker.io/acme/api:1.3.9`,
          'floating-tags': 'latest'
        }),
        {}
      )
    )
    expect(error.message).toMatch(/line 2 writes .*acme\/api:latest, as line 1 does/)
  })

  test('the same tag on different destinations is fine', () => {
    const promotions = getPromotions(
      reader({
        images: `${ECR}/api:1.4.2 docker.io/acme/api\n${ECR}/web:1.4.2 docker.io/acme/web`,
        tags: '1.4.2',
        'floating-tags': 'latest'
      }),
      {}
    )
    expect(promotions).toHaveLength(2)
  })
})

describe('getInputs: tags as docker/metadata-action output', () => {
  const base = { source: `${ECR}/app:1.4.2`, destination: 'docker.io/acme/app' }
  const read = (values: Record<string, string>) => getInputs(reader({ ...base, ...values }), {})

  test.each([
    ['full references, one per line', 'docker.io/acme/app:1.4.2\ndocker.io/acme/app:1.4', ['1.4.2', '1.4']],
    ['short Docker Hub references', 'acme/app:1.4.2\nacme/app:1.4\n', ['1.4.2', '1.4']],
    ['registry-1.docker.io host', 'registry-1.docker.io/acme/app:1.4.2', ['1.4.2']],
    ['references and bare tags mixed', 'docker.io/acme/app:1.4.2,1.4', ['1.4.2', '1.4']],
    ['CRLF and blank lines', 'docker.io/acme/app:1.4.2\r\n\r\ndocker.io/acme/app:1\r\n', ['1.4.2', '1']],
    ['a repeated tag once', 'acme/app:1.4.2\ndocker.io/acme/app:1.4.2', ['1.4.2']]
  ])('%s', (_name, tags, expected) => {
    expect(read({ tags }).tags).toEqual(expected)
  })

  test('references to a non-Docker-Hub destination', () => {
    const inputs = getInputs(
      reader({
        source: `${ECR}/app:1.4.2`,
        destination: 'ghcr.io/acme/app',
        tags: 'ghcr.io/acme/app:1.4.2\nghcr.io/acme/app:1.4'
      }),
      {}
    )
    expect(inputs.tags).toEqual(['1.4.2', '1.4'])
  })

  test.each([
    ['another repository', 'docker.io/acme/app:1.4.2\ndocker.io/acme/other:1.4.2', 'docker.io/acme/other'],
    ['another registry', 'ghcr.io/acme/app:1.4.2', 'ghcr.io/acme/app'],
    ['the library/ namespace', 'app:1.4.2', 'docker.io/library/app']
  ])('a reference to %s is an error naming it', (_name, tags, named) => {
    const error = inputError(() => read({ tags }))
    expect(error.input).toBe('tags')
    expect(error.message).toContain(`a reference to ${named},`)
    expect(error.message).toContain('not to the destination docker.io/acme/app')
  })

  test.each([
    ['a digest', `docker.io/acme/app@sha256:${'a'.repeat(64)}`],
    ['a tag and a digest', `docker.io/acme/app:1.4.2@sha256:${'a'.repeat(64)}`]
  ])('a reference with %s is an error', (_name, value) => {
    const error = inputError(() => read({ tags: `docker.io/acme/app:1.4\n${value}` }))
    expect(error.input).toBe('tags')
    expect(error.message).toMatch(/^Input "tags" has "docker\.io\/acme\/app[:@]/)
    expect(error.message).toContain("which names no tag (a digest is the source's)")
  })

  test('a reference without a tag is an error', () => {
    const error = inputError(() => read({ tags: 'docker.io/acme/app' }))
    expect(error.message).toContain('which names no tag')
  })

  test('an unparsable reference is an error naming it', () => {
    const error = inputError(() => read({ tags: 'docker.io/Acme/app:1' }))
    expect(error.input).toBe('tags')
    expect(error.message).toContain('has "docker.io/Acme/app:1"; a tag is 1 to 128 characters')
  })
})

describe('getInputs: latest and floating-tags', () => {
  const base = { source: `${ECR}/app:1.4.2`, destination: 'docker.io/acme/app' }
  const read = (values: Record<string, string>) => getInputs(reader({ ...base, ...values }), {})
  const FLOATING_NOTE = '"latest" in tags is treated as floating: moved to the promoted digest, never guarded'
  const AUTO_NOTE = '"latest" in tags follows the newest-release rule of floating-tags: auto'

  test.each([
    ['no floating tags', { tags: '1.4.2' }, ['1.4.2'], [], false, []],
    [
      'explicit floating tags',
      { tags: '1.4.2', 'floating-tags': 'latest,edge' },
      ['1.4.2'],
      ['latest', 'edge'],
      false,
      []
    ],
    ['latest in tags → floating', { tags: '1.4.2\nlatest' }, ['1.4.2'], ['latest'], false, [FLOATING_NOTE]],
    [
      'latest from metadata-action → floating',
      { tags: 'docker.io/acme/app:1.4.2\ndocker.io/acme/app:latest' },
      ['1.4.2'],
      ['latest'],
      false,
      [FLOATING_NOTE]
    ],
    [
      'latest in tags after an explicit floating tag',
      { tags: 'latest,1.4.2', 'floating-tags': 'edge' },
      ['1.4.2'],
      ['edge', 'latest'],
      false,
      [FLOATING_NOTE]
    ],
    ['auto', { tags: '1.4.2', 'floating-tags': 'auto' }, ['1.4.2'], [], true, []],
    ['AUTO in any case', { tags: '1.4.2', 'floating-tags': 'AUTO' }, ['1.4.2'], [], true, []],
    [
      'auto with latest in tags: dropped, newest-release rule',
      { tags: '1.4.2\nlatest', 'floating-tags': 'auto' },
      ['1.4.2'],
      [],
      true,
      [AUTO_NOTE]
    ],
    ['auto,edge', { tags: '1.4.2', 'floating-tags': 'auto,edge' }, ['1.4.2'], ['edge'], true, []],
    [
      'auto and edge on lines',
      { tags: '1.4.2', 'floating-tags': 'edge\nauto' },
      ['1.4.2'],
      ['edge'],
      true,
      []
    ],
    [
      'only latest, with a destination tag',
      { destination: 'docker.io/acme/app:1.4.2', tags: 'latest' },
      ['1.4.2'],
      ['latest'],
      false,
      [FLOATING_NOTE]
    ]
  ])('%s', (_name, values, tags, floatingTags, floatingAuto, notes) => {
    const inputs = read(values)
    expect(inputs.tags).toEqual(tags)
    expect(inputs.floatingTags).toEqual(floatingTags)
    expect(inputs.floatingAuto).toBe(floatingAuto)
    expect(inputs.notes).toEqual(notes)
  })

  test.each([
    ['latest', {}],
    ['docker.io/acme/app:latest', {}],
    ['latest', { 'floating-tags': 'auto' }]
  ])('tags only %p, and no other tag to guard, is an error', (tags, extra) => {
    const error = inputError(() => read({ tags, source: `${ECR}/app@sha256:${'a'.repeat(64)}`, ...extra }))
    expect(error.input).toBe('tags')
    expect(error.message).toBe(
      'Input "tags" has only "latest", which is floating; name a release tag to guard as well'
    )
  })

  test('tags only "latest": the source\'s tag is guarded', () => {
    const inputs = read({ tags: 'latest' })
    expect([inputs.tags, inputs.floatingTags]).toEqual([['1.4.2'], ['latest']])
  })

  test('a floating tag repeated in tags is an error', () => {
    const error = inputError(() => read({ tags: '1.4.2,edge', 'floating-tags': 'edge' }))
    expect(error.message).toBe('Input "floating-tags" repeats "edge", which is already in "tags"')
  })

  test('latest in tags and in floating-tags: floating, once', () => {
    const inputs = read({ tags: '1.4.2,latest', 'floating-tags': 'latest' })
    expect([inputs.tags, inputs.floatingTags]).toEqual([['1.4.2'], ['latest']])
  })

  test.each([
    [
      '1.4.2,1,1.4,latest',
      ['1.4.2'],
      '"1", "1.4", "latest" in tags follow the newest-release rule of floating-tags: auto'
    ],
    [
      'main,latest',
      ['main'],
      '"latest" in tags is treated as floating: moved to the promoted digest, never guarded (no tag is a semantic version, so floating-tags: auto derives none)'
    ]
  ])(
    "under auto, metadata-action's floating tags in tags %p follow the rule, or latest always moves",
    (tags, guarded, note) => {
      const inputs = read({ tags, 'floating-tags': 'auto' })
      expect(inputs.tags).toEqual(guarded)
      expect(inputs.notes).toEqual([note])
    }
  )
})

describe('getPromotions: tags across a set', () => {
  const ECR_HOST = '123456789012.dkr.ecr.us-east-1.amazonaws.com'
  const images = `${ECR_HOST}/api:1.4.2 docker.io/acme/api\n${ECR_HOST}/web:1.4.2 docker.io/acme/web`
  const promotions = (values: Record<string, string>) =>
    getPromotions((name) => ({ images, ...values })[name] ?? '', {})

  test('docker/metadata-action references go to the line whose destination they name; bare tags to all', () => {
    const set = promotions({ tags: 'acme/api:1.4.2\nacme/web:1.4.2\nacme/web:stable\nedge' })
    expect(set.map((p) => p.inputs.tags)).toEqual([
      ['1.4.2', 'edge'],
      ['1.4.2', 'stable', 'edge']
    ])
  })

  test('a reference no line promotes to is an error naming it', () => {
    expect(() => promotions({ tags: 'acme/api:1.4.2\nacme/cron:1.4.2' })).toThrow(
      'Input "tags" has "acme/cron:1.4.2", a reference to docker.io/acme/cron, which no line of images promotes to'
    )
  })

  test('under floating-tags: auto, two versions to one repository would race for latest: an error', () => {
    const twice = `${ECR_HOST}/app:1.4.2 docker.io/acme/app\n${ECR_HOST}/app:1.3.9 docker.io/acme/app`
    expect(() =>
      getPromotions((name) => ({ images: twice, 'floating-tags': 'auto' })[name] ?? '', {})
    ).toThrow('Input "images" line 2 writes docker.io/acme/app:latest, as line 1 does; each tag once')
  })
})
