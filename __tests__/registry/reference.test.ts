import { describe, expect, test } from '@jest/globals'
import { formatReference, isLoopbackHost, parseReference } from '../../src/registry/reference.js'

const D = 'sha256:' + 'a'.repeat(64)

describe('parseReference', () => {
  test.each([
    [
      '123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.4.2',
      '123456789012.dkr.ecr.us-east-1.amazonaws.com',
      'app',
      '1.4.2',
      undefined,
      'https'
    ],
    ['acme/app', 'registry-1.docker.io', 'acme/app', undefined, undefined, 'https'],
    ['docker.io/acme/app:1.0', 'registry-1.docker.io', 'acme/app', '1.0', undefined, 'https'],
    ['index.docker.io/acme/app', 'registry-1.docker.io', 'acme/app', undefined, undefined, 'https'],
    ['registry-1.docker.io/acme/app', 'registry-1.docker.io', 'acme/app', undefined, undefined, 'https'],
    ['nginx', 'registry-1.docker.io', 'library/nginx', undefined, undefined, 'https'],
    ['docker.io:443/acme/app:1', 'registry-1.docker.io', 'acme/app', '1', undefined, 'https'],
    ['index.docker.io:443/acme/app', 'registry-1.docker.io', 'acme/app', undefined, undefined, 'https'],
    // Upper case in the first component makes it a host (repository paths are lower case).
    ['MyRegistry/app:1', 'myregistry', 'app', '1', undefined, 'https'],
    ['docker.io/nginx:latest', 'registry-1.docker.io', 'library/nginx', 'latest', undefined, 'https'],
    ['localhost:5000/team/sub/app:v1', 'localhost:5000', 'team/sub/app', 'v1', undefined, 'http'],
    ['127.0.0.1:5000/app@' + D, '127.0.0.1:5000', 'app', undefined, D, 'http'],
    ['127.0.0.1:5000/app:1.2@' + D, '127.0.0.1:5000', 'app', '1.2', D, 'http'],
    ['[::1]:5000/app:x', '[::1]:5000', 'app', 'x', undefined, 'http'],
    ['localhost/app', 'localhost', 'app', undefined, undefined, 'http'],
    [
      'ghcr.io/Org-ignored'.toLowerCase() + '/a.b_c__d-e:T_1.x-y',
      'ghcr.io',
      'org-ignored/a.b_c__d-e',
      'T_1.x-y',
      undefined,
      'https'
    ],
    ['https://127.0.0.1:5000/app:1', '127.0.0.1:5000', 'app', '1', undefined, 'https'],
    ['http://localhost:5000/app:1', 'localhost:5000', 'app', '1', undefined, 'http'],
    ['REGISTRY.Example.com/app:1', 'registry.example.com', 'app', '1', undefined, 'https'],
    ['example.com:8443/app', 'example.com:8443', 'app', undefined, undefined, 'https']
  ])('%s', (input, registry, repository, tag, digest, scheme) => {
    expect(parseReference(input)).toEqual({ registry, repository, tag, digest, scheme })
  })

  test.each([
    ['', /empty/],
    ['   ', /empty/],
    ['acme/App', /lower-case/],
    ['acme/app:tag with space', /white space/],
    ['acme/app:1.0\nrm -rf /', /white space/],
    ['acme/app:.hidden', /tag/],
    ['acme/app:-x', /tag/],
    ['acme/app:' + 'x'.repeat(129), /tag/],
    ['acme/app:$(whoami)', /tag/],
    ['acme/app@sha256:abc', /digest/],
    ['acme/app@md5:' + 'a'.repeat(32), /digest/],
    ['acme/app@sha256:' + 'A'.repeat(64), /digest/],
    ['acme//app', /repository/],
    ['acme/app/', /repository/],
    ['example.com/', /no repository/],
    ['http://example.com/app:1', /plain HTTP/],
    ['ftp://example.com/app:1', /scheme/],
    ['https://app:1', /no registry host/],
    ['exa_mple.com/app', /registry host/],
    ['example.com/' + 'a'.repeat(260), /longer than 255/],
    ['acme/-app', /repository/]
  ])('rejects %j', (input, message) => {
    expect(() => parseReference(input)).toThrow(message)
  })
})

describe('isLoopbackHost', () => {
  test.each([
    ['127.0.0.1:5000', true],
    ['127.1.2.3', true],
    ['localhost', true],
    ['LOCALHOST:80', true],
    ['[::1]:5000', true],
    ['128.0.0.1', false],
    ['localhost.example.com', false],
    ['registry-1.docker.io', false]
  ])('%s -> %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected)
  })
})

test('formatReference round-trips the canonical form', () => {
  const ref = parseReference('127.0.0.1:5000/a/b:1@' + D)
  expect(formatReference(ref)).toBe('127.0.0.1:5000/a/b:1@' + D)
  expect(parseReference(formatReference(ref))).toEqual(ref)
})
