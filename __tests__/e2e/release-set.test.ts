// A release set through the committed bundles: the action's `images` input and outputs, its summary
// table, and the CLI's --images FILE and --images - with --output json.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, runAction } from '../../scripts/lib/action.mjs'
import { startRegistry } from '../../scripts/lib/registries.mjs'
import { headDigest, seedImage } from '../../scripts/lib/images.mjs'

type Registry = Awaited<ReturnType<typeof startRegistry>>
let source: Registry
let dest: Registry
const digests: Record<string, string> = {}
const work = mkdtempSync(join(tmpdir(), 'ecr-promote-set-'))

beforeAll(async () => {
  ;[source, dest] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })])
  for (const name of ['api', 'web']) {
    digests[name] = (
      await seedImage(source, name, '2.1.0', { platforms: ['linux/amd64', 'linux/arm64'] })
    ).digest
  }
})
afterAll(async () => {
  rmSync(work, { recursive: true, force: true })
  await Promise.all([source?.stop(), dest?.stop()])
})

const linesFor = (prefix: string) =>
  ['api', 'web'].map((n) => `${source.host}/${n}:2.1.0 ${dest.host}/${prefix}/${n}`).join('\n')

describe('dist/index.js', () => {
  test('images: every line promoted, outputs per image and for the set, one summary table', async () => {
    const run = await runAction({ images: linesFor('action'), 'floating-tags': 'auto' })
    expect(run.code).toBe(0)
    expect(run.outputs.result).toBe('copied')
    expect(run.outputs.digest).toBe(digests.api)
    const images = JSON.parse(run.outputs.images) as {
      destination: string
      digest: string
      result: string
      tags: string[]
      platforms: string[]
    }[]
    expect(images.map((i) => [i.destination, i.digest, i.result])).toEqual([
      [`${dest.host}/action/api`, digests.api, 'copied'],
      [`${dest.host}/action/web`, digests.web, 'copied']
    ])
    expect(images[1].tags.sort()).toEqual(['2', '2.1', '2.1.0', 'latest'])
    expect(images[0].platforms).toEqual(['linux/amd64', 'linux/arm64'])
    expect(await headDigest(dest, 'action/web', 'latest')).toBe(digests.web)
    expect(run.summary).toContain('<h3>ecr-promote release set: copied</h3>')
    expect(run.summary).toContain(`<code>${digests.web}</code>`)
    expect(run.stdout).toMatch(/\[web#2\] floating tag latest moves: 2\.1\.0 is the newest release/)
  })

  test('images with source as well is an input error naming both, before any network call', async () => {
    const run = await runAction({ images: linesFor('x'), source: `${source.host}/api:2.1.0` })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('Input "images" is given together with source')
  })
})

function cli(args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli.js'), ...args], {
    env: { PATH: process.env.PATH },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  child.stdin.end(stdin)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
}

describe('dist/cli.js', () => {
  test('--images FILE and --images - promote the set; --output json carries every image', async () => {
    const file = join(work, 'images.txt')
    writeFileSync(file, `# release 2.1.0\n${linesFor('cli-file')}\n`)
    const fromFile = await cli(['--images', file, '--output', 'json'])
    expect(fromFile.code).toBe(0)
    const record = JSON.parse(fromFile.stdout) as { result: string; images: { digest: string }[] }
    expect(record.result).toBe('copied')
    expect(record.images.map((i) => i.digest)).toEqual([digests.api, digests.web])

    const fromStdin = await cli(['--images', '-', '--tags', 'stable'], linesFor('cli-stdin'))
    expect(fromStdin.code).toBe(0)
    expect(fromStdin.stdout).toMatch(/^release set: result copied; /)
    expect(await headDigest(dest, 'cli-stdin/web', 'stable')).toBe(digests.web)
  })

  test('a bad line is a usage error naming it', async () => {
    const bad = await cli(['--images', '-'], `${source.host}/api:2.1.0\n`)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--images line 1 is')
  })
})
