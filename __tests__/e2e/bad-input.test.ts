// Bad input, through the committed bundle: every case must fail before any network call, exit
// non-zero, and print exactly one error that names the input and what is allowed.
import { afterAll, beforeAll, expect, test } from '@jest/globals'
import { createServer, type Server } from 'node:net'
import { errorsOf, runAction } from '../../scripts/lib/action.mjs'

let server: Server
let connections = 0
let host: string

beforeAll(async () => {
  // Both registries point here; a connection at all would mean a network call was made.
  server = createServer((socket) => {
    connections++
    socket.destroy()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  host = `127.0.0.1:${(server.address() as { port: number }).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

const D = 'sha256:' + 'a'.repeat(64)
const ok = () => ({ source: `${host}/app:1.4.2`, destination: `${host}/promoted/app` })

const cases: [string, (h: string) => Record<string, string>, string, RegExp][] = [
  ['empty source', () => ({ source: '' }), 'source', /is required/],
  ['white space in source', (h) => ({ source: `${h}/app:1.4.2 extra` }), 'source', /white space/],
  ['upper-case repository', (h) => ({ source: `${h}/App:1.4.2` }), 'source', /lower-case/],
  ['no tag and no digest', (h) => ({ source: `${h}/app` }), 'source', /neither a tag nor a digest/],
  ['CR/LF in a tag', (h) => ({ source: `${h}/app:1.4.2\r\nInjected: yes` }), 'source', /white space/],
  [
    'shell metacharacters in a tag',
    (h) => ({ source: `${h}/app:$(id)` }),
    'source',
    /a tag is 1 to 128 characters/
  ],
  [
    'over-long tag',
    (h) => ({ source: `${h}/app:${'x'.repeat(129)}` }),
    'source',
    /a tag is 1 to 128 characters/
  ],
  [
    'digest of the wrong length',
    (h) => ({ source: `${h}/app@sha256:abc123` }),
    'source',
    /sha256: and 64 lower-case hex/
  ],
  [
    'digest of another algorithm',
    (h) => ({ source: `${h}/app@md5:${'a'.repeat(32)}` }),
    'source',
    /sha256: and 64 lower-case hex/
  ],
  [
    'upper-case digest',
    (h) => ({ source: `${h}/app@sha256:${'A'.repeat(64)}` }),
    'source',
    /sha256: and 64 lower-case hex/
  ],
  [
    'http:// for a non-loopback registry',
    () => ({ source: 'http://registry.example.com/app:1' }),
    'source',
    /plain HTTP is allowed only for loopback/
  ],
  ['unknown scheme', () => ({ source: 'ftp://registry.example.com/app:1' }), 'source', /takes no scheme/],
  ['over-long name', (h) => ({ source: `${h}/${'a'.repeat(260)}:1` }), 'source', /longer than 255/],
  [
    'destination with a digest',
    (h) => ({ destination: `${h}/promoted/app@${D}` }),
    'destination',
    /takes no digest/
  ],
  [
    'destination equal to source',
    (h) => ({ destination: `${h}/app` }),
    'destination',
    /is the source itself/
  ],
  [
    'Docker Hub path too deep',
    () => ({ destination: 'docker.io/acme/team/app' }),
    'destination',
    /NAMESPACE\/NAME/
  ],
  [
    'Docker Hub library/',
    () => ({ destination: 'docker.io/library/app' }),
    'destination',
    /library\/ namespace/
  ],
  [
    'destination with a bad component',
    (h) => ({ destination: `${h}/promoted/-app` }),
    'destination',
    /lower-case letters and digits/
  ],
  ['tag with a space', () => ({ tags: '1.4.2, latest version' }), 'tags', /latest version/],
  ['tag with a CR inside', () => ({ tags: '1.4\r2' }), 'tags', /a tag is 1 to 128 characters/],
  ['tag with shell metacharacters', () => ({ tags: 'v1;rm -rf /' }), 'tags', /a tag is 1 to 128 characters/],
  ['tag starting with a dot', () => ({ tags: '.hidden' }), 'tags', /does not start with \. or -/],
  ['over-long tag in tags', () => ({ tags: 'y'.repeat(129) }), 'tags', /1 to 128 characters/],
  ['tags empty after splitting', () => ({ tags: ' , ,\n' }), 'tags', /no tag after splitting/],
  [
    'floating tag with a pipe',
    () => ({ 'floating-tags': 'latest|1' }),
    'floating-tags',
    /a tag is 1 to 128 characters/
  ],
  [
    'floating tag also guarded',
    () => ({ tags: '1.4.2', 'floating-tags': 'latest,1.4.2' }),
    'floating-tags',
    /already in "tags"/
  ],
  ['unknown if-exists', () => ({ 'if-exists': 'replace' }), 'if-exists', /allowed: fail, skip, overwrite/],
  ['non-numeric concurrency', () => ({ concurrency: 'lots' }), 'concurrency', /whole number from 1 to 64/],
  ['zero concurrency', () => ({ concurrency: '0' }), 'concurrency', /from 1 to 64/],
  ['too much concurrency', () => ({ concurrency: '65' }), 'concurrency', /from 1 to 64/],
  ['dry-run not a boolean', () => ({ 'dry-run': 'maybe' }), 'dry-run', /allowed: true, false/],
  [
    'malformed role ARN',
    () => ({ 'role-to-assume': 'arn:aws:iam::12345:role/promoter' }),
    'role-to-assume',
    /IAM role ARN/
  ],
  [
    'user ARN instead of a role',
    () => ({ 'role-to-assume': 'arn:aws:iam::123456789012:user/me' }),
    'role-to-assume',
    /IAM role ARN/
  ],
  [
    'session name with a space',
    () => ({ 'role-session-name': 'release 1' }),
    'role-session-name',
    /2 to 64 characters/
  ],
  ['session name too short', () => ({ 'role-session-name': 'x' }), 'role-session-name', /2 to 64 characters/],
  [
    'non-numeric duration',
    () => ({ 'role-duration-seconds': '1h' }),
    'role-duration-seconds',
    /whole number from 900 to 43200/
  ],
  [
    'duration out of range',
    () => ({ 'role-duration-seconds': '60' }),
    'role-duration-seconds',
    /from 900 to 43200/
  ],
  ['malformed region', () => ({ 'aws-region': 'useast1' }), 'aws-region', /region name/],
  ['audience with a comma', () => ({ audience: 'a,b' }), 'audience', /one audience/],
  [
    'username without password',
    () => ({ 'destination-username': 'me' }),
    'destination-password',
    /give both or neither/
  ]
]

test('the table has at least 30 cases', () => {
  expect(cases.length).toBeGreaterThanOrEqual(30)
})

test.each(cases)('%s: refused before any network call, naming %s', async (_name, overrides, input, rule) => {
  const before = connections
  const run = await runAction({ ...ok(), ...overrides(host) })
  expect(run.code).toBe(1)
  const errors = errorsOf(run)
  expect(errors).toHaveLength(1)
  expect(errors[0]).toMatch(new RegExp(`^Input "${input}" `))
  expect(errors[0]).toMatch(rule)
  expect(run.outputs).toEqual({})
  expect(connections).toBe(before)
})
