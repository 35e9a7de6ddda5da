import { describe, expect, test } from '@jest/globals'
import { parseChallenges, pickChallenge } from '../../src/registry/challenge.js'

describe('parseChallenges', () => {
  test.each([
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:acme/app:pull"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.docker.io/token',
            service: 'registry.docker.io',
            scope: 'repository:acme/app:pull'
          }
        }
      ]
    ],
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    ['basic realm=ecr', [{ scheme: 'basic', params: { realm: 'ecr' } }]],
    [
      'Bearer realm="https://ghcr.io/token", service="ghcr.io", scope="repository:a/b:pull,push"',
      [
        {
          scheme: 'bearer',
          params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:a/b:pull,push' }
        }
      ]
    ],
    [
      'Basic realm="x", Bearer realm="https://t/token",service="s"',
      [
        { scheme: 'basic', params: { realm: 'x' } },
        { scheme: 'bearer', params: { realm: 'https://t/token', service: 's' } }
      ]
    ],
    [
      'Bearer realm="https://t/token",error="insufficient_scope",scope="repository:a:pull repository:b:push"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://t/token',
            error: 'insufficient_scope',
            scope: 'repository:a:pull repository:b:push'
          }
        }
      ]
    ],
    ['Bearer REALM="https://t/a\\"b"', [{ scheme: 'bearer', params: { realm: 'https://t/a"b' } }]],
    ['Negotiate abc123==', [{ scheme: 'negotiate', params: {} }]],
    ['', []]
  ])('%s', (header, expected) => {
    expect(parseChallenges(header)).toEqual(expected)
  })

  test('undefined header gives no challenge', () => {
    expect(parseChallenges(undefined)).toEqual([])
  })
})

describe('pickChallenge', () => {
  test.each([
    ['Basic realm="x", Bearer realm="https://t"', 'bearer'],
    ['Basic realm="x"', 'basic'],
    ['Negotiate abc', undefined]
  ])('%s -> %s', (header, scheme) => {
    expect(pickChallenge(parseChallenges(header))?.scheme).toBe(scheme)
  })
})
