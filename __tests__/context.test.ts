import { beforeEach, describe, expect, jest, test } from '@jest/globals'

const setSecret = jest.fn<(secret: string) => void>()
jest.unstable_mockModule('@actions/core', () => ({
  getInput: (name: string) => process.env[`INPUT_${name.toUpperCase()}`] ?? '',
  setSecret
}))
const context = await import('../src/promotion/options.js')
const action = await import('../src/action/inputs.js')

const D = 'sha256:' + 'c'.repeat(64)
const base = { source: '127.0.0.1:5000/app:1.4.2', destination: 'docker.io/acme/app' }
const reader = (inputs: Record<string, string>) => (name: string) => inputs[name] ?? ''

beforeEach(() => {
  setSecret.mockClear()
})

describe('getInputs', () => {
  test('defaults: the source tag, fail, dry-run off, measured concurrency', () => {
    const inputs = context.getInputs(reader(base))
    expect(inputs.source).toMatchObject({
      registry: '127.0.0.1:5000',
      repository: 'app',
      tag: '1.4.2',
      scheme: 'http'
    })
    expect(inputs.destination).toMatchObject({ registry: 'registry-1.docker.io', repository: 'acme/app' })
    expect(inputs.tags).toEqual(['1.4.2'])
    expect(inputs.floatingTags).toEqual([])
    expect(inputs.ifExists).toBe('fail')
    expect(inputs.dryRun).toBe(false)
    expect(inputs.concurrency).toBe(context.DEFAULT_CONCURRENCY)
    expect(inputs.sourceCredentials).toBeUndefined()
  })

  test.each([
    [{ destination: 'acme/app:2.0' }, ['2.0']],
    [{ tags: '1.4.2, 1.4\n1' }, ['1.4.2', '1.4', '1']],
    [{ tags: 'a,,b,\r\na' }, ['a', 'b']],
    [{ destination: 'acme/app:x', tags: 'y' }, ['x', 'y']],
    [{ source: '127.0.0.1:5000/app@' + D, destination: 'acme/app:v1' }, ['v1']]
  ])('tags from %j', (overrides, tags) => {
    expect(context.getInputs(reader({ ...base, ...overrides })).tags).toEqual(tags)
  })

  test('reads inputs from the runner environment by default', () => {
    process.env.INPUT_SOURCE = base.source
    process.env.INPUT_DESTINATION = base.destination
    process.env['INPUT_IF-EXISTS'] = 'skip'
    try {
      expect(action.readInputs().members[0].inputs.ifExists).toBe('skip')
    } finally {
      delete process.env.INPUT_SOURCE
      delete process.env.INPUT_DESTINATION
      delete process.env['INPUT_IF-EXISTS']
    }
  })

  test('the action masks passwords before anything else', () => {
    const env = {
      INPUT_SOURCE: base.source,
      INPUT_DESTINATION: base.destination,
      'INPUT_DESTINATION-USERNAME': 'u',
      'INPUT_DESTINATION-PASSWORD': 'p4ss',
      'INPUT_SOURCE-USERNAME': 's',
      'INPUT_SOURCE-PASSWORD': 'q'
    }
    Object.assign(process.env, env)
    try {
      const inputs = action.readInputs().members[0].inputs
      expect(setSecret).toHaveBeenCalledWith('p4ss')
      expect(setSecret).toHaveBeenCalledWith('q')
      expect(inputs.destinationCredentials).toEqual({ username: 'u', password: 'p4ss' })
    } finally {
      for (const name of Object.keys(env)) delete process.env[name]
    }
  })

  test('the action masks a password even when another input is invalid', () => {
    Object.assign(process.env, {
      INPUT_SOURCE: 'BAD',
      INPUT_DESTINATION: base.destination,
      'INPUT_DESTINATION-PASSWORD': 'zz'
    })
    try {
      expect(() => action.readInputs()).toThrow()
      expect(setSecret).toHaveBeenCalledWith('zz')
    } finally {
      for (const name of ['INPUT_SOURCE', 'INPUT_DESTINATION', 'INPUT_DESTINATION-PASSWORD'])
        delete process.env[name]
    }
  })

  test('the same rule reads in the command line front as a flag', () => {
    const error = (() => {
      try {
        context.getInputs(reader({ ...base, 'if-exists': 'sometimes' }))
      } catch (e) {
        return e as InstanceType<typeof context.InputError>
      }
    })()
    expect(error?.message).toBe('Input "if-exists" is "sometimes"; allowed: fail, skip, overwrite')
    expect(error?.labelled((name) => `--${name}`)).toBe(
      '--if-exists is "sometimes"; allowed: fail, skip, overwrite'
    )
  })

  test.each([
    [{ source: '' }, 'source', /is required/],
    [{ source: 'Acme/App:1' }, 'source', /lower-case/],
    [{ source: '127.0.0.1:5000/app' }, 'source', /neither a tag nor a digest/],
    [{ source: 'http://example.com/app:1' }, 'source', /plain HTTP/],
    [{ source: '127.0.0.1:5000/app@sha256:1234' }, 'source', /digest/],
    [{ destination: 'acme/app@' + D }, 'destination', /takes no digest/],
    [{ destination: '127.0.0.1:5000/app' }, 'destination', /the source itself/],
    [{ destination: '127.0.0.1:5000/app', tags: 'x,1.4.2' }, 'destination', /the source itself/],
    [{ tags: 'ok, bad tag' }, 'tags', /bad tag/],
    [{ tags: 'UPPER;rm' }, 'tags', /letters, digits/],
    [{ tags: ' , \n ,' }, 'tags', /no tag after splitting/],
    [{ tags: 'x'.repeat(129) }, 'tags', /1 to 128/],
    [{ 'floating-tags': 'edge,latest2', tags: 'edge' }, 'floating-tags', /already in "tags"/],
    [{ 'floating-tags': '-x' }, 'floating-tags', /does not start/],
    [
      { source: '127.0.0.1:5000/app@' + D, destination: 'acme/app' },
      'tags',
      /neither destination nor source has a tag/
    ],
    [{ 'if-exists': 'replace' }, 'if-exists', /allowed: fail, skip, overwrite/],
    [{ 'dry-run': 'yes' }, 'dry-run', /allowed: true, false/],
    [{ concurrency: 'many' }, 'concurrency', /whole number from 1 to 64/],
    [{ concurrency: '0' }, 'concurrency', /from 1 to 64/],
    [{ concurrency: '65' }, 'concurrency', /from 1 to 64/],
    [{ concurrency: '-3' }, 'concurrency', /whole number/],
    [{ concurrency: '2.5' }, 'concurrency', /whole number/],
    [{ 'destination-username': 'u' }, 'destination-password', /give both or neither/],
    [{ 'source-password': 'p' }, 'source-username', /give both or neither/]
  ])('%j is refused naming %s', (overrides, input, message) => {
    let error: unknown
    try {
      context.getInputs(reader({ ...base, ...overrides }))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(context.InputError)
    expect((error as Error).message).toMatch(new RegExp(`^Input "${input}" `))
    expect((error as Error).message).toMatch(message)
  })

  test('if-exists and dry-run are case-insensitive', () => {
    const inputs = context.getInputs(
      reader({ ...base, 'if-exists': 'Overwrite', 'dry-run': 'TRUE', concurrency: '16' })
    )
    expect(inputs).toMatchObject({ ifExists: 'overwrite', dryRun: true, concurrency: 16 })
  })
})

describe('AWS inputs', () => {
  test('defaults', () => {
    const inputs = context.getInputs(reader(base), { GITHUB_REPOSITORY: 'acme/app', GITHUB_RUN_ID: '987654' })
    expect(inputs.aws).toEqual({
      roleToAssume: undefined,
      audience: 'sts.amazonaws.com',
      roleSessionName: 'ecr-promote-acme-app-987654',
      roleDurationSeconds: 3600,
      region: undefined
    })
  })

  test.each([
    [{}, 'ecr-promote'],
    [{ GITHUB_REPOSITORY: 'acme/app', GITHUB_RUN_ID: '1' }, 'ecr-promote-acme-app-1'],
    [
      {
        GITHUB_REPOSITORY: 'a-very-long-organisation-name/an-even-longer-repository-name-here',
        GITHUB_RUN_ID: '12345678901'
      },
      /^ecr-promote-a-very-long-organisation-name-an-even-lo-12345678901$/
    ],
    [{ GITHUB_REPOSITORY: 'ac me/ap!p', GITHUB_RUN_ID: '2' }, 'ecr-promote-ac-me-ap-p-2']
  ])('session name from %j', (env, expected) => {
    const name = context.defaultSessionName(env)
    if (typeof expected === 'string') expect(name).toBe(expected)
    else expect(name).toMatch(expected)
    expect(name).toMatch(/^[\w+=,.@-]{2,64}$/)
  })

  test('explicit values', () => {
    const inputs = context.getInputs(
      reader({
        ...base,
        'role-to-assume': 'arn:aws-cn:iam::123456789012:role/path/to/promoter',
        audience: 'my-audience',
        'role-session-name': 'release@v1.4.2',
        'role-duration-seconds': '900',
        'aws-region': 'cn-north-1'
      })
    )
    expect(inputs.aws).toMatchObject({
      roleToAssume: 'arn:aws-cn:iam::123456789012:role/path/to/promoter',
      audience: 'my-audience',
      roleSessionName: 'release@v1.4.2',
      roleDurationSeconds: 900,
      region: 'cn-north-1'
    })
  })

  test.each([
    [{ 'role-to-assume': 'promoter' }, 'role-to-assume', /IAM role ARN/],
    [{ 'role-to-assume': 'arn:aws:iam::12345:role/x' }, 'role-to-assume', /IAM role ARN/],
    [{ 'role-to-assume': 'arn:aws:iam::123456789012:user/x' }, 'role-to-assume', /IAM role ARN/],
    [{ 'role-to-assume': 'arn:aws:iam::123456789012:role/x y' }, 'role-to-assume', /IAM role ARN/],
    [{ 'role-session-name': 'a' }, 'role-session-name', /2 to 64 characters/],
    [{ 'role-session-name': 'x'.repeat(65) }, 'role-session-name', /2 to 64 characters/],
    [{ 'role-session-name': 'has space' }, 'role-session-name', /2 to 64 characters/],
    [{ 'role-session-name': 'semi;colon' }, 'role-session-name', /2 to 64 characters/],
    [{ 'role-duration-seconds': '600' }, 'role-duration-seconds', /from 900 to 43200/],
    [{ 'role-duration-seconds': '50000' }, 'role-duration-seconds', /from 900 to 43200/],
    [{ 'role-duration-seconds': '1h' }, 'role-duration-seconds', /whole number/],
    [{ 'aws-region': 'US-EAST-1' }, 'aws-region', /region name/],
    [{ audience: 'a b' }, 'audience', /one audience/],
    [{ destination: 'docker.io/acme/team/app' }, 'destination', /NAMESPACE\/NAME/],
    [{ destination: 'docker.io/library/app' }, 'destination', /library\/ namespace/],
    [{ destination: 'nginx' }, 'destination', /library\/ namespace/]
  ])('%j is refused naming %s', (overrides, input, message) => {
    expect(() => context.getInputs(reader({ ...base, ...overrides }))).toThrow(
      new RegExp(`^Input "${input}" .*${message.source}`)
    )
  })
})

describe('unknownInputWarnings', () => {
  test('the known inputs are exactly those action.yml declares', async () => {
    const { readFileSync } = await import('node:fs')
    const yml = readFileSync(new URL('../action.yml', import.meta.url), 'utf8')
    const section = yml.slice(yml.indexOf('\ninputs:'), yml.indexOf('\noutputs:'))
    const declared = [...section.matchAll(/^ {2}([a-z-]+):$/gm)].map((m) => m[1])
    expect([...context.INPUT_NAMES].sort()).toEqual(declared.sort())
  })

  test.each([
    ['INPUT_FLOATING_TAGS', /"floating_tags" is not an input .*did you mean "floating-tags"\?/],
    ['INPUT_IF_EXIST', /"if_exist" is not an input .*did you mean "if-exists"\?/],
    ['INPUT_DESTINATION-USER', /did you mean "destination-username"\?/],
    [
      'INPUT_XYZZY',
      /"xyzzy" is not an input of this action and is ignored; the inputs are: source, destination/
    ]
  ])('%s gets a warning naming the nearest input', (variable, message) => {
    const warnings = action.unknownInputWarnings({
      [variable]: 'x',
      'INPUT_FLOATING-TAGS': 'latest',
      PATH: '/bin'
    })
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(message)
  })

  test('declared inputs, as the runner names them, give no warning', () => {
    const env = Object.fromEntries(context.INPUT_NAMES.map((n) => [`INPUT_${n.toUpperCase()}`, 'x']))
    expect(action.unknownInputWarnings(env)).toEqual([])
  })
})
