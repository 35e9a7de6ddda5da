// The gates' and the ECR destination's options: keys as PEM text or files, severities, waits, and
// the rules that tie them to an ECR source or destination. Each error names the input.
import { describe, expect, test } from '@jest/globals'
import { generateKeyPairSync, sign } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getInputs, getPromotions } from '../../src/promotion/options.js'
import { verifiesWith } from '../../src/gates/keys.js'

const ECR = '123456789012.dkr.ecr.us-east-1.amazonaws.com'
const pem = (type: 'ec' | 'ed25519' | 'rsa' = 'ec') => {
  const pair =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519')
  return pair.publicKey.export({ type: 'spki', format: 'pem' }).toString()
}

function reader(values: Record<string, string>) {
  const all: Record<string, string> = {
    source: `${ECR}/app:1.4.2`,
    destination: 'docker.io/acme/app',
    ...values
  }
  return (name: string) => all[name] ?? ''
}

describe('require-signature-key', () => {
  test('PEM text with two blocks gives two keys, labelled in order, with fingerprints', () => {
    const { gates } = getInputs(reader({ 'require-signature-key': `${pem()}\n${pem('ed25519')}` }))
    expect(gates.signature?.keys.map((k) => k.label)).toEqual(['key 1', 'key 2'])
    expect(gates.signature?.keys[0].fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/)
    expect(gates.signature?.keys.map((k) => k.origin)).toEqual(['PEM block 1', 'PEM block 2'])
  })

  test('paths are read relative to the workspace, one per line; the same key twice counts once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ecr-promote-keys-'))
    const key = pem('rsa')
    writeFileSync(join(dir, 'cosign.pub'), key)
    writeFileSync(join(dir, 'again.pub'), key)
    const { gates } = getInputs(reader({ 'require-signature-key': 'cosign.pub\nagain.pub\n' }), {
      GITHUB_WORKSPACE: dir
    })
    expect(gates.signature?.keys).toHaveLength(1)
    expect(gates.signature?.keys[0].origin).toBe('cosign.pub')
  })

  test('PEM text and file paths mixed (the CLI flag repeated) give every key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ecr-promote-keys-'))
    writeFileSync(join(dir, 'ci.pub'), pem())
    const { gates } = getInputs(reader({ 'require-signature-key': `${pem()}\nci.pub` }), {
      GITHUB_WORKSPACE: dir
    })
    expect(gates.signature?.keys.map((k) => k.origin)).toEqual(['PEM block 1', 'ci.pub'])
  })

  const privateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString()
  test.each([
    ['a private key', privateKey, 'PEM block 1 is a private key; give the public key'],
    [
      'a broken block',
      '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----',
      'PEM block 1 is not a valid public key'
    ],
    [
      'a certificate',
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
      'PEM block 1 is a certificate, not a public key'
    ],
    ['an unfinished block', '-----BEGIN PUBLIC KEY-----\nAAAA', 'holds an unfinished PEM block'],
    ['a missing file', 'keys/nope.pub', 'file "keys/nope.pub" cannot be read (ENOENT)']
  ])('%s is refused, naming the input', (_, value, message) => {
    expect(() =>
      getInputs(reader({ 'require-signature-key': value }), { GITHUB_WORKSPACE: tmpdir() })
    ).toThrow(`Input "require-signature-key" ${message}`)
  })
})

describe('fail-on-scan-severity and scan-wait-seconds', () => {
  test('a severity in any case, and the default wait of 300 s', () => {
    expect(getInputs(reader({ 'fail-on-scan-severity': 'High' })).gates.scan).toEqual({
      severity: 'HIGH',
      waitSeconds: 300
    })
    expect(
      getInputs(reader({ 'fail-on-scan-severity': 'critical', 'scan-wait-seconds': '0' })).gates.scan
    ).toEqual({ severity: 'CRITICAL', waitSeconds: 0 })
    expect(getInputs(reader({})).gates).toEqual({})
  })

  test.each([
    [
      { 'fail-on-scan-severity': 'severe' },
      'Input "fail-on-scan-severity" is "severe"; allowed: critical, high, medium, low'
    ],
    [{ 'fail-on-scan-severity': 'high', 'scan-wait-seconds': '5m' }, 'Input "scan-wait-seconds" is "5m"'],
    [{ 'scan-wait-seconds': '3601' }, 'from 0 to 3600'],
    [
      { 'fail-on-scan-severity': 'high', source: 'docker.io/acme/build:1' },
      'Input "fail-on-scan-severity" needs an ECR source (scan findings come from ECR), and the source is docker.io/acme/build:1'
    ]
  ])('%j is refused', (values, message) => {
    expect(() => getInputs(reader(values))).toThrow(message)
  })
})

describe('create-repository and repository-tag-mutability', () => {
  const toEcr = { destination: `${ECR}/release/app` }
  test('off by default; on with MUTABLE unless IMMUTABLE is asked for', () => {
    expect(getInputs(reader(toEcr)).ecr).toEqual({ createRepository: false, tagMutability: 'MUTABLE' })
    expect(
      getInputs(reader({ ...toEcr, 'create-repository': 'true', 'repository-tag-mutability': 'immutable' }))
        .ecr
    ).toEqual({ createRepository: true, tagMutability: 'IMMUTABLE' })
  })

  test.each([
    [
      { 'create-repository': 'true' },
      'Input "create-repository" is for an ECR destination, and the destination is docker.io/acme/app'
    ],
    [
      { ...toEcr, 'repository-tag-mutability': 'IMMUTABLE' },
      'applies to a repository create-repository makes'
    ],
    [
      { ...toEcr, 'create-repository': 'true', 'repository-tag-mutability': 'frozen' },
      'allowed: MUTABLE, IMMUTABLE'
    ],
    [
      {
        ...toEcr,
        'create-repository': 'true',
        'repository-tag-mutability': 'IMMUTABLE',
        'floating-tags': 'latest'
      },
      'is IMMUTABLE, and floating-tags (latest) could never move'
    ]
  ])('%j is refused', (values, message) => {
    expect(() => getInputs(reader(values))).toThrow(message)
  })

  test('in a release set they apply to the lines they fit, and are an error when none does', () => {
    const images = `${ECR}/api:1 ${ECR}/release/api\n${ECR}/web:1 docker.io/acme/web`
    const lines = getPromotions(
      reader({
        images,
        source: '',
        destination: '',
        'create-repository': 'true',
        'fail-on-scan-severity': 'high'
      })
    )
    expect(lines.map((l) => l.inputs.ecr.createRepository)).toEqual([true, false])
    expect(lines.map((l) => l.inputs.gates.scan?.severity)).toEqual(['HIGH', 'HIGH'])
    const hubOnly = `docker.io/acme/a:1 docker.io/acme/b`
    expect(() =>
      getPromotions(reader({ images: hubOnly, source: '', destination: '', 'fail-on-scan-severity': 'high' }))
    ).toThrow(
      'Input "images" line 1: fail-on-scan-severity needs an ECR source (scan findings come from ECR), and the source is docker.io/acme/a:1'
    )
    expect(() =>
      getPromotions(reader({ images: hubOnly, source: '', destination: '', 'create-repository': 'true' }))
    ).toThrow('Input "create-repository" is true, but no line of images has an ECR destination')
  })
})

describe('verifiesWith', () => {
  test.each([
    ['P-256, SHA-256', 'ec', 'P-256', 'sha256'],
    ['P-384, SHA-256 (cosign)', 'ec', 'P-384', 'sha256'],
    ['P-384, SHA-384', 'ec', 'P-384', 'sha384'],
    ['RSA, SHA-256', 'rsa', undefined, 'sha256'],
    ['Ed25519', 'ed25519', undefined, null]
  ] as const)('%s verifies, and a changed payload does not', (_, type, curve, hash) => {
    const pair =
      type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: curve! })
        : type === 'rsa'
          ? generateKeyPairSync('rsa', { modulusLength: 2048 })
          : generateKeyPairSync('ed25519')
    const payload = Buffer.from('{"critical":{}}')
    const signature = sign(hash, payload, pair.privateKey)
    expect(verifiesWith(pair.publicKey, payload, signature)).toBe(true)
    expect(verifiesWith(pair.publicKey, Buffer.from('{"critical":{} }'), signature)).toBe(false)
  })
})
