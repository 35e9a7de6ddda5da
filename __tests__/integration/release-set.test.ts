// Release sets and floating tags between real docker-registry processes: all or nothing (a refusal
// anywhere leaves no tag anywhere), conflicts under fail and skip, unchanged and dry-run sets, a
// failure in the tag phase that says what was written, and floating-tags: auto against what the
// destination already has, its tag list read page by page.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { startRegistry } from '../../scripts/lib/registries.mjs'
import { headDigest, seedImage } from '../../scripts/lib/images.mjs'
import { request } from 'undici'
import { startForwarder } from '../../scripts/lib/proxy.mjs'
import { getPromotions } from '../../src/promotion/options.js'
import { promoteSet, type SetResult } from '../../src/promotion/set.js'
import { answerError, closeUpstreamAgent, manifestPath, run } from '../support/fronts.js'
import { recordingReporter } from '../support/helpers.js'

type Registry = Awaited<ReturnType<typeof startRegistry>>
type Stoppable = { stop: () => Promise<void> }

let source: Registry
let destination: Registry
const stoppers: Stoppable[] = []
const NAMES = ['api', 'web', 'worker']
const digests: Record<string, string> = {}

beforeAll(async () => {
  ;[source, destination] = await Promise.all([
    startRegistry({ auth: 'none', name: 'set-src' }),
    startRegistry({ auth: 'none', name: 'set-dst' })
  ])
  for (const name of NAMES) {
    const image = await seedImage(source, `release/${name}`, '1.4.2', {
      platforms: ['linux/amd64'],
      sharedLayers: [64 * 1024],
      layers: [4096],
      seed: `release/${name}`
    })
    digests[name] = image.digest
  }
})

afterAll(async () => {
  for (const s of stoppers.reverse()) await s.stop()
  await Promise.all([source?.stop(), destination?.stop()])
  await closeUpstreamAgent()
})

async function front<T extends Stoppable>(started: Promise<T>): Promise<T> {
  const f = await started
  stoppers.push(f)
  return f
}

let counter = 0
function lines(
  host: string,
  prefix = `set${++counter}`,
  names = NAMES
): { images: string; repo: (n: string) => string } {
  const repo = (n: string) => `${prefix}/${n}`
  return {
    images: [
      '# the 1.4.2 release',
      ...names.map((n) => `${source.host}/release/${n}:1.4.2   ${host}/${repo(n)}`),
      ''
    ].join('\n'),
    repo
  }
}

async function promoteLines(values: Record<string, string>): Promise<SetResult & { log: string[] }> {
  const reporter = recordingReporter()
  const read = (name: string) => values[name] ?? ''
  const result = await promoteSet(getPromotions(read, {}), { reporter })
  return { ...result, log: reporter.lines }
}

async function failLines(values: Record<string, string>): Promise<{ message: string; log: string[] }> {
  const reporter = recordingReporter()
  const read = (name: string) => values[name] ?? ''
  try {
    const result = await promoteSet(getPromotions(read, {}), { reporter })
    throw new Error(`expected the set to fail; it answered ${result.result}`)
  } catch (error) {
    if ((error as Error).message.startsWith('expected the set')) throw error
    return { message: (error as Error).message, log: reporter.lines }
  }
}

describe('all or nothing', () => {
  test('three images land, each under its tag; the shared base layer is moved once per repository', async () => {
    const { images, repo } = lines(destination.host)
    const set = await promoteLines({ images })
    expect(set.result).toBe('copied')
    expect(set.images.map((r) => r.result)).toEqual(['copied', 'copied', 'copied'])
    for (const name of NAMES) expect(await headDigest(destination, repo(name), '1.4.2')).toBe(digests[name])
    expect(set.images.map((r) => r.tags)).toEqual([['1.4.2'], ['1.4.2'], ['1.4.2']])
    expect(set.log).toContainEqual('all 3 images are ready: writing their tags')
    // The tags come after every image's content: no tag write before the last blob.
    const firstTag = set.log.findIndex((l) => / tag 1\.4\.2 -> /.test(l))
    const lastBlob = set.log.map((l) => / copied in /.test(l)).lastIndexOf(true)
    expect(firstTag).toBeGreaterThan(lastBlob)
  })

  test('one destination that refuses writes: no tag anywhere, and the error names the image', async () => {
    const { images, repo } = lines('FRONT')
    const refusing = await front(
      startForwarder(destination.url, (req, res) => {
        if (
          !(req.url ?? '').startsWith(`/v2/${repo('worker')}/`) ||
          req.method === 'GET' ||
          req.method === 'HEAD'
        )
          return false
        answerError(req, res, 403, 'DENIED', 'requested access to the resource is denied')
        return true
      })
    )
    const { message } = await failLines({ images: images.replaceAll('FRONT', refusing.host) })
    expect(message).toContain('image on line 4')
    expect(message).toContain(`${repo('worker')}`)
    expect(message).toContain('no release tag was written for any image of the set')
    for (const name of NAMES) expect(await headDigest(destination, repo(name), '1.4.2')).toBeUndefined()
  })

  test('a conflict under if-exists: fail fails the set before anything is written', async () => {
    const { images, repo } = lines(destination.host)
    await seedImage(destination, repo('web'), '1.4.2', { platforms: ['linux/amd64'], seed: 'another web' })
    const { message } = await failLines({ images })
    expect(message).toMatch(/image on line 3 .*tag "1\.4\.2" points at sha256:/)
    expect(await headDigest(destination, repo('api'), '1.4.2')).toBeUndefined()
    expect(await headDigest(destination, repo('worker'), '1.4.2')).toBeUndefined()
  })

  test('under if-exists: skip, that image is skipped and the others land', async () => {
    const { images, repo } = lines(destination.host)
    const other = await seedImage(destination, repo('web'), '1.4.2', {
      platforms: ['linux/amd64'],
      seed: 'another web'
    })
    const set = await promoteLines({ images, 'if-exists': 'skip' })
    expect(set.result).toBe('copied')
    expect(set.images.map((r) => r.result)).toEqual(['copied', 'skipped', 'copied'])
    expect(await headDigest(destination, repo('web'), '1.4.2')).toBe(other.digest)
    expect(await headDigest(destination, repo('api'), '1.4.2')).toBe(digests.api)
  })

  test('a set promoted again is unchanged; a dry run writes nothing', async () => {
    const { images, repo } = lines(destination.host)
    const dry = await promoteLines({ images, 'dry-run': 'true' })
    expect(dry.result).toBe('copied')
    expect(dry.images.every((r) => r.dryRun)).toBe(true)
    for (const name of NAMES) {
      expect(await headDigest(destination, repo(name), '1.4.2')).toBeUndefined()
      expect(await headDigest(destination, repo(name), digests[name])).toBeUndefined()
    }
    await promoteLines({ images })
    const again = await promoteLines({ images })
    expect(again.result).toBe('unchanged')
    expect(again.images.map((r) => r.result)).toEqual(['unchanged', 'unchanged', 'unchanged'])
  })

  test('a failure in the tag phase says which tags of which images were written', async () => {
    const { images, repo } = lines('FRONT')
    const late = await front(
      startForwarder(destination.url, (req, res) => {
        const m = manifestPath(req.url)
        if (req.method !== 'PUT' || m?.name !== repo('web') || m.reference !== 'latest') return false
        answerError(req, res, 400, 'MANIFEST_INVALID', 'storage refused the tag')
        return true
      })
    )
    const { message } = await failLines({
      images: images.replaceAll('FRONT', late.host),
      'floating-tags': 'latest'
    })
    expect(message).toContain('image on line 3')
    expect(message).toMatch(
      /tags by image: api#2: written 1\.4\.2, latest; web#3: written 1\.4\.2, not written latest; worker#4: written 1\.4\.2, latest/
    )
  })
})

describe('floating-tags: auto', () => {
  async function destinationWith(tags: string[]): Promise<string> {
    const repo = `float/r${++counter}`
    for (const tag of tags)
      await seedImage(destination, repo, tag, { platforms: ['linux/amd64'], seed: `old ${tag}` })
    return repo
  }

  async function promoteVersion(repo: string, version: string, host = destination.host) {
    await seedImage(source, 'release/versions', version, { platforms: ['linux/amd64'], seed: `v ${version}` })
    return run({
      source: `${source.host}/release/versions:${version}`,
      destination: `${host}/${repo}`,
      'floating-tags': 'auto'
    })
  }

  test('an older release moves only its own minor line; latest and the major stay at the newest', async () => {
    const repo = await destinationWith(['1.3.0', 'latest', '1', '1.3'])
    const result = await promoteVersion(repo, '1.2.5')
    expect(result.tags.sort()).toEqual(['1.2', '1.2.5'])
    const stays = result.tagOutcomes.filter((t) => t.outcome === 'stays')
    expect(stays.map((t) => [t.tag, t.reason])).toEqual([
      ['latest', 'latest stays at 1.3.0: 1.3.0 is newer than 1.2.5'],
      ['1', '1 stays at 1.3.0: 1.3.0 is newer than 1.2.5']
    ])
    expect(await headDigest(destination, repo, 'latest')).not.toBe(result.digest)
    expect(await headDigest(destination, repo, '1.2')).toBe(result.digest)
  })

  test('the newest release moves them all; a pre-release moves none; a re-run of the newest moves them again', async () => {
    const repo = await destinationWith(['1.3.0', 'latest'])
    const newest = await promoteVersion(repo, '1.4.0')
    expect(newest.tags.sort()).toEqual(['1', '1.4', '1.4.0', 'latest'])
    const rc = await promoteVersion(repo, '2.0.0-rc.1')
    expect(rc.tags).toEqual(['2.0.0-rc.1'])
    expect(rc.tagOutcomes.filter((t) => t.outcome === 'stays').map((t) => t.reason)).toEqual([
      'latest stays: 2.0.0-rc.1 is a pre-release',
      '2 stays: 2.0.0-rc.1 is a pre-release',
      '2.0 stays: 2.0.0-rc.1 is a pre-release'
    ])
    expect(await headDigest(destination, repo, 'latest')).toBe(newest.digest)
    const again = await promoteVersion(repo, '1.4.0')
    expect(again.result).toBe('unchanged')
  })

  test('the tag list is read page by page (a newer release on a later page keeps latest)', async () => {
    const tags = ['1.0.0', '1.1.0', '1.2.0', '1.3.0', '1.9.0', 'a', 'b', 'c']
    const repo = await destinationWith(tags)
    // Pages of two, as registries with a page size answer (distribution 2.8 does not page tags).
    const paging = await front(
      startForwarder(destination.url, async (req, res) => {
        const url = new URL(req.url ?? '/', 'http://front')
        if (req.method !== 'GET' || !url.pathname.endsWith('/tags/list')) return false
        req.resume()
        const all = await request(`${destination.url}${url.pathname}`)
        const names: string[] = ((await all.body.json()) as { tags: string[] }).tags.sort()
        const from = url.searchParams.get('last') ? names.indexOf(url.searchParams.get('last')!) + 1 : 0
        const page = names.slice(from, from + 2)
        const headers: Record<string, string> = { 'content-type': 'application/json' }
        if (from + 2 < names.length)
          headers.link = `<${url.pathname}?n=2&last=${page[page.length - 1]}>; rel="next"`
        res.writeHead(200, headers)
        res.end(JSON.stringify({ name: repo, tags: page }))
        return true
      })
    )
    const result = await promoteVersion(repo, '1.5.0', paging.host)
    const listed = paging.seen.filter((r: { url: string }) => r.url.includes('/tags/list'))
    expect(listed.length).toBeGreaterThan(3)
    expect(result.tagOutcomes.find((t) => t.tag === 'latest')).toMatchObject({
      outcome: 'stays',
      reason: 'latest stays at 1.9.0: 1.9.0 is newer than 1.5.0'
    })
    expect(result.tags.sort()).toEqual(['1.5', '1.5.0'])
  })

  test('docker/metadata-action output composes: references as tags, latest among them follows the rule', async () => {
    const repo = await destinationWith(['2.0.0', 'latest'])
    await seedImage(source, 'release/versions', '1.9.1', { platforms: ['linux/amd64'], seed: 'v 1.9.1' })
    const destinationRef = `${destination.host}/${repo}`
    const result = await run({
      source: `${source.host}/release/versions:1.9.1`,
      destination: destinationRef,
      tags: [`${destinationRef}:1.9.1`, `${destinationRef}:1.9`, `${destinationRef}:latest`].join('\n'),
      'floating-tags': 'auto'
    })
    // Its 1.9 and latest are floating under auto (a guarded 1.9 would fail the next patch release).
    expect(result.log).toContainEqual(
      '"1.9", "latest" in tags follow the newest-release rule of floating-tags: auto'
    )
    expect(result.tagOutcomes.find((t) => t.tag === 'latest')?.outcome).toBe('stays')
    expect(result.tagOutcomes.filter((t) => !t.floating).map((t) => t.tag)).toEqual(['1.9.1'])
    expect(result.tags.sort()).toEqual(['1', '1.9', '1.9.1'])
  })
})
