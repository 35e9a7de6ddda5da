import { beforeEach, describe, expect, jest, test } from '@jest/globals'

const setSecret = jest.fn<(secret: string) => void>()
jest.unstable_mockModule('@actions/core', () => ({
  getInput: (name: string) => process.env[`INPUT_${name.toUpperCase()}`] ?? '',
  setSecret
}))
const context = await import('../src/context.js')

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
      expect(context.getInputs().ifExists).toBe('skip')
    } finally {
      delete process.env.INPUT_SOURCE
      delete process.env.INPUT_DESTINATION
      delete process.env['INPUT_IF-EXISTS']
    }
  })

  test('masks passwords before anything else', () => {
    const inputs = context.getInputs(
      reader({
        ...base,
        'destination-username': 'u',
        'destination-password': 'p4ss',
        'source-username': 's',
        'source-password': 'q'
      })
    )
    expect(setSecret).toHaveBeenCalledWith('p4ss')
    expect(setSecret).toHaveBeenCalledWith('q')
    expect(inputs.destinationCredentials).toEqual({ username: 'u', password: 'p4ss' })
  })

  test('masks a password even when another input is invalid', () => {
    expect(() =>
      context.getInputs(reader({ ...base, source: 'BAD', 'destination-password': 'zz' }))
    ).toThrow()
    expect(setSecret).toHaveBeenCalledWith('zz')
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
    [{ 'floating-tags': 'latest,latest2', tags: 'latest' }, 'floating-tags', /already in "tags"/],
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
