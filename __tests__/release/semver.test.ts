import { describe, expect, test } from '@jest/globals'
import {
  compareVersions,
  formatVersion,
  isStable,
  parseVersion,
  type Version
} from '../../src/promotion/semver.js'

const v = (tag: string): Version => {
  const version = parseVersion(tag)
  if (!version) throw new Error(`${tag} does not parse`)
  return version
}
const sign = (a: string, b: string): number => Math.sign(compareVersions(v(a), v(b)))

describe('parseVersion', () => {
  test.each([
    ['1.4.2', { major: 1, minor: 4, patch: 2, prerelease: [], prefix: '' }],
    ['v1.4.2', { major: 1, minor: 4, patch: 2, prerelease: [], prefix: 'v' }],
    ['0.0.0', { major: 0, minor: 0, patch: 0, prerelease: [], prefix: '' }],
    ['1.5.0-rc.1', { major: 1, minor: 5, patch: 0, prerelease: ['rc', '1'], prefix: '' }],
    ['v2.0.0-beta', { major: 2, minor: 0, patch: 0, prerelease: ['beta'], prefix: 'v' }],
    ['1.4.2+build.7', { major: 1, minor: 4, patch: 2, prerelease: [], prefix: '' }],
    ['1.0.0-alpha.1+sha.5114f85', { major: 1, minor: 0, patch: 0, prerelease: ['alpha', '1'], prefix: '' }],
    ['10.20.30', { major: 10, minor: 20, patch: 30, prerelease: [], prefix: '' }]
  ])('%s', (tag, expected) => {
    expect(parseVersion(tag)).toEqual({ ...expected, tag })
  })

  test.each([
    'latest',
    '1.4',
    '1',
    '01.2.3',
    '1.02.3',
    '1.2.03',
    '1.2.3.4',
    'main',
    'sha-abc',
    'V1.2.3',
    'vv1.2.3',
    '1.2.3-',
    '1.2.3-rc.01',
    '1.2.3+',
    '',
    ' 1.2.3',
    '99999999999999999999.0.0'
  ])('%p is not a semantic version', (tag) => {
    expect(parseVersion(tag)).toBeUndefined()
  })
})

describe('isStable', () => {
  test.each([
    ['1.4.2', true],
    ['v1.4.2', true],
    ['1.4.2+build.7', true],
    ['1.5.0-rc.1', false],
    ['1.0.0-alpha', false]
  ])('%s → %p', (tag, stable) => {
    expect(isStable(v(tag))).toBe(stable)
  })
})

describe('compareVersions', () => {
  test.each([
    ['1.4.2', '1.4.3'],
    ['1.4.9', '1.5.0'],
    ['1.9.9', '2.0.0'],
    ['1.2.10', '1.10.2'],
    ['1.5.0-rc.1', '1.5.0'],
    ['1.4.2', '1.5.0-rc.1'],
    ['1.0.0-alpha', '1.0.0-alpha.1'],
    ['1.0.0-alpha.1', '1.0.0-alpha.beta'],
    ['1.0.0-alpha.beta', '1.0.0-beta'],
    ['1.0.0-beta', '1.0.0-beta.2'],
    ['1.0.0-beta.2', '1.0.0-beta.11'],
    ['1.0.0-beta.11', '1.0.0-rc.1'],
    ['1.0.0-rc.1', '1.0.0'],
    ['1.0.0-rc.2', '1.0.0-rc.10'],
    ['1.0.0-1', '1.0.0-alpha'],
    ['1.4.0', 'v2.1.0'],
    ['v1.4.0', '2.1.0'],
    ['v1.9.0', 'v1.10.0']
  ])('%s < %s', (lower, higher) => {
    expect(sign(lower, higher)).toBe(-1)
    expect(sign(higher, lower)).toBe(1)
  })

  test.each([
    ['1.4.2', '1.4.2'],
    ['1.4.2+build.7', '1.4.2'],
    ['1.4.2+build.7', '1.4.2+build.8'],
    ['v1.4.2', '1.4.2'],
    ['v1.5.0-rc.1', '1.5.0-rc.1+meta']
  ])('%s equals %s', (a, b) => {
    expect(compareVersions(v(a), v(b))).toBe(0)
    expect(compareVersions(v(b), v(a))).toBe(0)
  })

  test('sorts the semver 2.0.0 precedence example, whatever the input order', () => {
    const ordered = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0'
    ]
    const shuffled = [
      ordered[5],
      ordered[7],
      ordered[0],
      ordered[3],
      ordered[6],
      ordered[1],
      ordered[4],
      ordered[2]
    ]
    expect(
      shuffled
        .map(v)
        .sort(compareVersions)
        .map((x) => x.tag)
    ).toEqual(ordered)
  })
})

describe('formatVersion', () => {
  test.each([
    ['1.4.2', '1.4.2'],
    ['v1.4.2', '1.4.2'],
    ['1.4.2+build.7', '1.4.2'],
    ['v1.5.0-rc.1', '1.5.0-rc.1'],
    ['1.0.0-alpha.beta+exp.sha.5114f85', '1.0.0-alpha.beta']
  ])('%s → %s', (tag, formatted) => {
    expect(formatVersion(v(tag))).toBe(formatted)
  })
})
