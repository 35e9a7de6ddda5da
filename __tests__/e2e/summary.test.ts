// The job summary as the runner renders it: HTML tables (no Markdown backticks inside them), written
// for failed runs too, telling what a dry run would do, what an overwrite replaced and what a skip left.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { startRegistry } from '../../scripts/lib/registries.mjs'
import { headDigest, seedImage } from '../../scripts/lib/images.mjs'
import { runAction } from '../../scripts/lib/action.mjs'

type Registry = Awaited<ReturnType<typeof startRegistry>>
let source: Registry
let dest: Registry
let image: Awaited<ReturnType<typeof seedImage>>
let other: Awaited<ReturnType<typeof seedImage>>

beforeAll(async () => {
  ;[source, dest] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })])
  image = await seedImage(source, 'app', 'v2', { platforms: ['linux/amd64', 'linux/arm64'], layers: [2048] })
  other = await seedImage(source, 'app', 'v1', { layers: [1024], index: false })
})
afterAll(async () => Promise.all([source?.stop(), dest?.stop()]))

/** Each table of the summary as rows of cell texts (tags stripped), and the raw cell HTML. */
function tables(html: string): { text: string[][]; raw: string[][] }[] {
  return [...html.matchAll(/<table>([\s\S]*?)<\/table>/g)].map((t) => {
    const rows = [...t[1].matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((r) =>
      [...r[1].matchAll(/<t[hd]>([\s\S]*?)<\/t[hd]>/g)].map((c) => c[1])
    )
    return { raw: rows, text: rows.map((r) => r.map(textOf)) }
  })
}

function textOf(cell: string): string {
  const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" }
  return cell.replace(/<[^>]+>/g, '').replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => entities[e])
}

function item(html: string, name: string): string | undefined {
  return tables(html)[0].text.find((r) => r[0] === name)?.[1]
}

function expectWellFormed(html: string) {
  expect(html).not.toContain('`')
  expect(html).toMatch(/<h3>ecr-promote: /)
}

describe('job summary', () => {
  test('a failed run says what was checked, what failed and that no tag was written', async () => {
    await seedImage(dest, 'acme/taken', 'v2', { layers: [512], index: false, seed: 'other' })
    const run = await runAction({
      source: `${source.host}/app:v2`,
      destination: `${dest.host}/acme/taken`
    })
    expect(run.code).toBe(1)
    expectWellFormed(run.summary)
    expect(run.summary).toContain('<h3>ecr-promote: failed</h3>')
    expect(item(run.summary, 'Digest')).toBe(image.digest)
    expect(item(run.summary, 'Failed at')).toBe('resolve the source and check the destination tags')
    expect(item(run.summary, 'Error')).toMatch(/tag "v2" points at sha256:.*nothing was written/)
    expect(item(run.summary, 'Tags written')).toBe('none')
    const tags = tables(run.summary)[1].text
    expect(tags[0]).toEqual(['Tag', 'Before', 'Outcome'])
    expect(tags[1][0]).toBe('v2')
    expect(tags[1][2]).toBe('not written')
  })

  test('a dry run reports what would be copied, not "copied 0 B"', async () => {
    const run = await runAction({
      source: `${source.host}/app:v2`,
      destination: `${dest.host}/acme/dry`,
      'dry-run': 'true'
    })
    expect(run.code).toBe(0)
    expectWellFormed(run.summary)
    expect(run.summary).toContain('<h3>ecr-promote: copied (dry run)</h3>')
    expect(item(run.summary, 'Content')).toMatch(/^would copy [\d.]+ KiB in 4 blobs and push 2 manifests/)
    expect(item(run.summary, 'Content')).not.toMatch(/copied 0 B/)
    expect(tables(run.summary)[1].text[1]).toEqual(['v2', '—', 'would write'])
    const platforms = tables(run.summary)[2].text
    expect(platforms[0]).toEqual(['Platform', 'Manifest digest', 'Size'])
    expect(platforms.slice(1).map((r) => [r[0], r[1]])).toEqual(
      image.manifests.map((m) => [`${m.platform.os}/${m.platform.architecture}`, m.digest])
    )
    expect(platforms[1][2]).toMatch(/KiB$/)
  })

  test('an overwritten guarded tag shows as overwritten, with the digest it had', async () => {
    const repo = 'acme/over'
    expect(
      (await runAction({ source: `${source.host}/app:v1`, destination: `${dest.host}/${repo}:stable` })).code
    ).toBe(0)
    const run = await runAction({
      source: `${source.host}/app:v2`,
      destination: `${dest.host}/${repo}:stable`,
      'if-exists': 'overwrite'
    })
    expect(run.code).toBe(0)
    expectWellFormed(run.summary)
    const row = tables(run.summary)[1].text[1]
    expect(row[0]).toBe('stable')
    expect(row[1]).toBe(other.digest)
    expect(row[2]).toBe(`overwritten (was ${other.digest.slice(0, 19)}…)`)
    expect(await headDigest(dest, repo, 'stable')).toBe(image.digest)
  })

  test('a skip presents no destination image that does not exist', async () => {
    const repo = 'acme/skip'
    await runAction({ source: `${source.host}/app:v1`, destination: `${dest.host}/${repo}:stable` })
    const run = await runAction({
      source: `${source.host}/app:v2`,
      destination: `${dest.host}/${repo}:stable`,
      'if-exists': 'skip'
    })
    expect(run.code).toBe(0)
    expect(run.outputs.result).toBe('skipped')
    expect(run.outputs.image).toBe('')
    expectWellFormed(run.summary)
    expect(item(run.summary, 'Image')).toBeUndefined()
    expect(tables(run.summary)[1].text[1]).toEqual(['stable', other.digest, 'conflict'])
    expect(await headDigest(dest, repo, image.digest)).toBeUndefined()
  })
})
