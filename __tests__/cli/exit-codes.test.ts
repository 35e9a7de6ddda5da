// Which failure is which exit code: the kind is read from the error and its causes.
import { describe, expect, test } from '@jest/globals'
import { failureKind, PromotionError } from '../../src/promotion/errors.js'
import { RegistryError } from '../../src/registry/errors.js'
import { EXIT } from '../../src/cli/main.js'

const named = (name: string) => Object.assign(new Error(name), { name })

describe('failureKind', () => {
  test.each([
    [new PromotionError('tag "1" points at …', { kind: 'conflict' }), 'conflict'],
    [new PromotionError('did not grant push access', { kind: 'access' }), 'access'],
    [new PromotionError('resolve source', { cause: new RegistryError('401', { status: 401 }) }), 'access'],
    [new PromotionError('authenticate', { cause: new RegistryError('403', { status: 403 }) }), 'access'],
    [new Error('log in', { cause: new Error('ECR', { cause: named('AccessDeniedException') }) }), 'access'],
    [new Error('assume role', { cause: named('InvalidIdentityToken') }), 'access'],
    [new Error('no credentials', { cause: named('CredentialsProviderError') }), 'access'],
    [new PromotionError('signature gate: no signature', { kind: 'gate' }), 'gate'],
    [new PromotionError('copy', { cause: new RegistryError('500', { status: 500 }) }), 'other'],
    [new PromotionError('resolve', { cause: new RegistryError('404', { status: 404 }) }), 'other'],
    [new Error('cannot reach'), 'other']
  ])('%s -> %s', (error, kind) => {
    expect(failureKind(error)).toBe(kind)
  })

  test('the documented exit codes', () => {
    expect(EXIT).toEqual({
      ok: 0,
      failed: 1,
      usage: 2,
      conflict: 3,
      access: 4,
      gate: 5,
      sigint: 130,
      sigterm: 143
    })
  })
})
