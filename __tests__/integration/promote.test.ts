// Promotions between real docker-registry processes: plain, htpasswd basic auth and token auth.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { promote, type PromoteResult } from '../../src/promotion/promote.js'
import { USERS, startRegistry } from '../../scripts/lib/registries.mjs'
import { blobPresent, headDigest, seedImage } from '../../scripts/lib/images.mjs'
import { startForwarder } from '../../scripts/lib/proxy.mjs'
import { inputsFrom, recordingReporter } from '../support/helpers.js'

type Registry = Awaited<ReturnType<typeof startRegistry>>
type Seeded = Awaited<ReturnType<typeof seedImage>>

const KiB = 1024
const MiB = 1024 * KiB
const registries: Record<string, Registry> = {}
let source: Registry

beforeAll(async () => {
  // The source takes token auth with a pull-only user, as a read-only ECR role would be.
  ;[source, registries.plain, registries.basic, registries.token] = await Promise.all([
    startRegistry({ auth: 'token', name: 'source' }),
    startRegistry({ auth: 'none' }),
    startRegistry({ auth: 'basic' }),
    startRegistry({ auth: 'token' })
  ])
})

afterAll(async () => {
  await Promise.all([source, ...Object.values(registries)].filter(Boolean).map((r) => r.stop()))
})

let counter = 0
/** A fresh destination repository for each case, so cases cannot see each other's blobs. */
function freshRepo(prefix: string): string {
  return `${prefix}/case${++counter}`
}

function sourceInputs(repo: string, tag: string) {
  return {
    source: `${source.host}/${repo}:${tag}`,
    'source-username': 'reader',
    'source-password': USERS.reader.password
  }
}

function destinationCredentials(kind: string): Record<string, string> {
  return kind === 'plain'
    ? {}
    : { 'destination-username': 'promoter', 'destination-password': USERS.promoter.password }
}

async function run(values: Record<string, string | undefined>): Promise<PromoteResult & { log: string[] }> {
  const reporter = recordingReporter()
  const result = await promote(inputsFrom(values), { reporter })
  return { ...result, log: reporter.lines }
}

async function expectAllBlobs(registry: Registry, repo: string, image: Seeded, present = true) {
  for (const digest of image.blobs.keys()) expect(await blobPresent(registry, repo, digest)).toBe(present)
}

describe.each(['plain', 'basic', 'token'])('to a %s registry', (kind) => {
  let dest: Registry
  let multi: Seeded
  let dockerList: Seeded
  let single: Seeded
  let other: Seeded
  const srcRepo = `src/${kind}`

  beforeAll(async () => {
    dest = registries[kind]
    ;[multi, dockerList, single, other] = await Promise.all([
      seedImage(source, srcRepo, 'multi', {
        platforms: ['linux/amd64', 'linux/arm64', 'linux/arm/v7'],
        sharedLayers: [3 * MiB],
        layers: [700 * KiB, 20 * KiB],
        format: 'oci'
      }),
      seedImage(source, srcRepo, 'dockerlist', {
        platforms: ['linux/amd64', 'linux/arm64'],
        sharedLayers: [1 * MiB],
        layers: [300 * KiB],
        format: 'docker'
      }),
      seedImage(source, srcRepo, 'single', {
        platforms: ['linux/arm64/v8'],
        layers: [2 * MiB, 5],
        format: 'docker',
        index: false
      }),
      seedImage(source, srcRepo, 'other', {
        platforms: ['linux/amd64'],
        layers: [10 * KiB],
        format: 'oci',
        index: false
      })
    ])
  })

  test('copies a multi-platform OCI index by digest, shared blobs once', async () => {
    const repo = freshRepo(kind)
    const result = await run({
      ...sourceInputs(srcRepo, 'multi'),
      destination: `${dest.host}/${repo}`,
      ...destinationCredentials(kind)
    })
    expect(result.result).toBe('copied')
    expect(result.digest).toBe(multi.digest)
    expect(result.image).toBe(`${dest.host}/${repo}@${multi.digest}`)
    expect(result.tags).toEqual(['multi'])
    expect(result.platforms).toEqual(['linux/amd64', 'linux/arm64', 'linux/arm/v7'])
    expect(await headDigest(dest, repo, 'multi')).toBe(multi.digest)
    for (const child of multi.manifests) expect(await headDigest(dest, repo, child.digest)).toBe(child.digest)
    await expectAllBlobs(dest, repo, multi)
    // 3 configs + 1 shared + 6 own layers: the shared layer crossed once.
    const unique = [...multi.blobs.values()].reduce((a, b) => a + b, 0)
    expect(result.copy?.blobs.copied.count).toBe(multi.blobs.size)
    expect(result.copy?.bytesTransferred).toBe(unique)
    expect(result.copy?.manifests.pushed).toBe(3)
  })

  test('copies a Docker v2 manifest list', async () => {
    const repo = freshRepo(kind)
    const result = await run({
      ...sourceInputs(srcRepo, 'dockerlist'),
      destination: `${dest.host}/${repo}:1.0`,
      ...destinationCredentials(kind)
    })
    expect(result).toMatchObject({
      result: 'copied',
      digest: dockerList.digest,
      tags: ['1.0'],
      platforms: ['linux/amd64', 'linux/arm64']
    })
    expect(await headDigest(dest, repo, '1.0')).toBe(dockerList.digest)
    await expectAllBlobs(dest, repo, dockerList)
  })

  test('copies a single-platform Docker v2 image and reads its platform from the config', async () => {
    const repo = freshRepo(kind)
    const result = await run({
      ...sourceInputs(srcRepo, 'single'),
      destination: `${dest.host}/${repo}`,
      ...destinationCredentials(kind)
    })
    expect(result).toMatchObject({ result: 'copied', digest: single.digest, platforms: ['linux/arm64/v8'] })
    expect(await headDigest(dest, repo, 'single')).toBe(single.digest)
    await expectAllBlobs(dest, repo, single)
  })

  test('a second run is unchanged and moves no blob bytes', async () => {
    const repo = freshRepo(kind)
    const values = {
      ...sourceInputs(srcRepo, 'multi'),
      destination: `${dest.host}/${repo}`,
      'floating-tags': 'latest',
      ...destinationCredentials(kind)
    }
    await run(values)
    const again = await run(values)
    expect(again.result).toBe('unchanged')
    expect(again.copy).toBeUndefined()
    expect(again.tags).toEqual(['multi', 'latest'])
    expect(again.tagOutcomes.map((t) => t.outcome)).toEqual(['unchanged', 'unchanged'])
    // One HEAD per tag at the destination. At the source: the manifest, the tag list (cosign's
    // digest tags) and one referrers question per manifest (index and three platforms), all at once.
    expect(again.requests.destination).toBe(2)
    expect(again.requests.source).toBe(6)
    expect(again.referrers).toEqual([])
    // Without referrers: one GET of the source manifest (plus auth).
    const plain = await run({ ...values, referrers: 'false' })
    expect(plain.result).toBe('unchanged')
    expect(plain.requests.destination).toBe(2)
    expect(plain.requests.source).toBe(1)
  })

  test('a new tag for content already there moves no blob bytes', async () => {
    const repo = freshRepo(kind)
    const values = {
      ...sourceInputs(srcRepo, 'multi'),
      destination: `${dest.host}/${repo}`,
      ...destinationCredentials(kind)
    }
    await run(values)
    const result = await run({ ...values, tags: 'second' })
    expect(result.result).toBe('copied')
    expect(result.copy?.bytesTransferred).toBe(0)
    expect(result.copy?.blobs.copied.count).toBe(0)
    expect(await headDigest(dest, repo, 'second')).toBe(multi.digest)
  })

  describe('a guarded tag holding another digest', () => {
    let repo: string
    let values: Record<string, string>
    beforeAll(async () => {
      repo = freshRepo(kind)
      values = {
        ...sourceInputs(srcRepo, 'multi'),
        destination: `${dest.host}/${repo}:1.0`,
        ...destinationCredentials(kind)
      }
      await run({
        ...sourceInputs(srcRepo, 'other'),
        destination: `${dest.host}/${repo}:1.0`,
        ...destinationCredentials(kind)
      })
      expect(await headDigest(dest, repo, '1.0')).toBe(other.digest)
    })

    test('if-exists fail: fails naming the tag and both digests, writes nothing', async () => {
      await expect(run({ ...values, 'if-exists': 'fail', 'floating-tags': 'latest' })).rejects.toThrow(
        new RegExp(
          `tag "1.0" points at ${other.digest}, not at the promoted ${multi.digest}.*nothing was written`
        )
      )
      expect(await headDigest(dest, repo, '1.0')).toBe(other.digest)
      expect(await headDigest(dest, repo, 'latest')).toBeUndefined()
      expect(await headDigest(dest, repo, multi.manifests[0].digest)).toBeUndefined()
      await expectAllBlobs(dest, repo, multi, false)
    })

    test('if-exists skip: succeeds as skipped, writes nothing', async () => {
      const result = await run({ ...values, 'if-exists': 'skip', tags: '1.0,1' })
      expect(result.result).toBe('skipped')
      expect(result.tags).toEqual([])
      expect(result.tagOutcomes).toEqual([
        { tag: '1.0', floating: false, before: other.digest, outcome: 'conflict' },
        { tag: '1', floating: false, before: undefined, outcome: 'not-written' }
      ])
      expect(await headDigest(dest, repo, '1.0')).toBe(other.digest)
      expect(await headDigest(dest, repo, '1')).toBeUndefined()
      await expectAllBlobs(dest, repo, multi, false)
    })

    test('if-exists overwrite: moves the tag to the promoted digest', async () => {
      const result = await run({ ...values, 'if-exists': 'overwrite' })
      expect(result.result).toBe('copied')
      expect(result.tagOutcomes[0]).toMatchObject({
        tag: '1.0',
        before: other.digest,
        outcome: 'overwritten'
      })
      expect(await headDigest(dest, repo, '1.0')).toBe(multi.digest)
    })
  })

  test('floating tags move to the promoted digest, after the guarded tags', async () => {
    const repo = freshRepo(kind)
    const creds = destinationCredentials(kind)
    await run({
      ...sourceInputs(srcRepo, 'other'),
      destination: `${dest.host}/${repo}`,
      'floating-tags': 'latest,1',
      ...creds
    })
    expect(await headDigest(dest, repo, 'latest')).toBe(other.digest)
    const result = await run({
      ...sourceInputs(srcRepo, 'multi'),
      destination: `${dest.host}/${repo}:1.4.2`,
      'floating-tags': 'latest,1',
      ...creds
    })
    expect(result.tags).toEqual(['1.4.2', 'latest', '1'])
    const written = result.log.filter((l) => l.startsWith('tag ')).map((l) => l.split(' ')[1])
    // The guarded tag first; the floating tags after it (written together, in any order).
    expect(written[0]).toBe('1.4.2')
    expect(written.slice(1).sort()).toEqual(['1', 'latest'])
    for (const tag of ['1.4.2', 'latest', '1']) expect(await headDigest(dest, repo, tag)).toBe(multi.digest)
  })

  test('dry-run reports what would happen and writes nothing', async () => {
    const repo = freshRepo(kind)
    const result = await run({
      ...sourceInputs(srcRepo, 'multi'),
      destination: `${dest.host}/${repo}`,
      'dry-run': 'true',
      ...destinationCredentials(kind)
    })
    expect(result).toMatchObject({ result: 'copied', dryRun: true, digest: multi.digest, tags: [] })
    expect(result.tagOutcomes).toEqual([
      { tag: 'multi', floating: false, before: undefined, outcome: 'would-write' }
    ])
    expect(result.copy?.blobs['would-copy'].count).toBe(multi.blobs.size)
    expect(result.copy?.manifests.wouldPush).toBe(3)
    expect(result.copy?.bytesTransferred).toBe(0)
    expect(await headDigest(dest, repo, 'multi')).toBeUndefined()
    for (const child of multi.manifests) expect(await headDigest(dest, repo, child.digest)).toBeUndefined()
    await expectAllBlobs(dest, repo, multi, false)
  })

  test('a source pinned by digest promotes that digest', async () => {
    const repo = freshRepo(kind)
    const result = await run({
      source: `${source.host}/${srcRepo}@${dockerList.digest}`,
      'source-username': 'reader',
      'source-password': USERS.reader.password,
      destination: `${dest.host}/${repo}:pinned`,
      ...destinationCredentials(kind)
    })
    expect(result.digest).toBe(dockerList.digest)
    expect(await headDigest(dest, repo, 'pinned')).toBe(dockerList.digest)
  })
})

describe('within one registry', () => {
  test('blobs are mounted from the source repository, not copied', async () => {
    const reg = registries.plain
    const image = await seedImage(reg, 'team/base', '2.0', {
      platforms: ['linux/amd64', 'linux/arm64'],
      layers: [256 * KiB]
    })
    const result = await run({
      source: `${reg.host}/team/base:2.0`,
      destination: `${reg.host}/team/promoted`
    })
    expect(result.result).toBe('copied')
    expect(result.copy?.blobs.mounted.count).toBe(image.blobs.size)
    expect(result.copy?.bytesTransferred).toBe(0)
    expect(await headDigest(reg, 'team/promoted', '2.0')).toBe(image.digest)
  })

  test('retagging within a repository writes only the new tag', async () => {
    const reg = registries.basic
    const creds = destinationCredentials('basic')
    const image = await seedImage(reg, 'team/app', 'rc1', { layers: [4 * KiB], index: false })
    const result = await run({
      source: `${reg.host}/team/app:rc1`,
      'source-username': 'promoter',
      'source-password': USERS.promoter.password,
      destination: `${reg.host}/team/app:1.0.0`,
      ...creds
    })
    expect(result).toMatchObject({ result: 'copied', digest: image.digest, tags: ['1.0.0'] })
    expect(result.copy?.bytesTransferred).toBe(0)
    expect(await headDigest(reg, 'team/app', '1.0.0')).toBe(image.digest)
  })
})

describe('failures', () => {
  test('a missing source repository (NAME_UNKNOWN, as ECR answers) fails saying it does not exist', async () => {
    // distribution answers MANIFEST_UNKNOWN even for an unknown repository; ECR says NAME_UNKNOWN.
    const ecrLike = await startForwarder(registries.plain.url, (req, res) => {
      if (!req.url?.includes('/manifests/')) return false
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          errors: [{ code: 'NAME_UNKNOWN', message: "The repository with name 'gone' does not exist" }]
        })
      )
      return true
    })
    try {
      await expect(
        run({ source: `${ecrLike.host}/gone:v1`, destination: `${registries.plain.host}/x/y` })
      ).rejects.toThrow(/resolve source 127\.0\.0\.1:\d+\/gone:v1: .*repository gone does not exist/)
    } finally {
      await ecrLike.stop()
    }
  })

  test('a missing source tag fails naming the tag, and that the repository exists', async () => {
    await seedImage(source, 'src/tagged', 'v1', { layers: [16], index: false })
    await expect(
      run({ ...sourceInputs('src/tagged', 'nope'), destination: `${registries.plain.host}/x/y` })
    ).rejects.toThrow(
      /resolve source 127\.0\.0\.1:\d+\/src\/tagged:nope: tag nope not found in repository src\/tagged \(the repository exists\); the registry said: MANIFEST_UNKNOWN/
    )
  })

  test('a missing source repository is told apart from a missing tag', async () => {
    await expect(
      run({ ...sourceInputs('src/never-pushed', 'v1'), destination: `${registries.plain.host}/x/y` })
    ).rejects.toThrow(/resolve source .*src\/never-pushed:v1: repository src\/never-pushed does not exist/)
  })

  test('wrong destination credentials fail before anything is copied', async () => {
    await seedImage(source, 'src/creds', 'v1', { layers: [1024], index: false })
    await expect(
      run({
        ...sourceInputs('src/creds', 'v1'),
        destination: `${registries.token.host}/x/y`,
        'destination-username': 'promoter',
        'destination-password': 'wrong'
      })
    ).rejects.toThrow(
      /authenticate to destination .*refused the credentials.*incorrect username or password \(check destination-username and destination-password/
    )
  })

  test('a registry that refuses uploads fails the run before any blob is read from the source', async () => {
    await seedImage(source, 'src/refuse', 'v1', { platforms: ['linux/amd64', 'linux/arm64'], layers: [4096] })
    const sourceWatch = await startForwarder(source.url)
    const refusing = await startForwarder(registries.plain.url, (req, res) => {
      if (req.method === 'POST' && req.url?.includes('/blobs/uploads/')) {
        res.writeHead(403, { 'content-type': 'application/json' })
        res.end(
          JSON.stringify({
            errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }]
          })
        )
        return true
      }
      return false
    })
    try {
      await expect(
        run({
          source: `${sourceWatch.host}/src/refuse:v1`,
          'source-username': 'reader',
          'source-password': USERS.reader.password,
          destination: `${refusing.host}/refused/app`
        })
      ).rejects.toThrow(
        /refused an upload \(start upload to refused\/app: 403 DENIED: requested access to the resource is denied\); nothing was written\. no destination credentials were given/
      )
      expect(sourceWatch.seen.filter((r) => r.method === 'GET' && r.url.includes('/blobs/'))).toEqual([])
    } finally {
      await Promise.all([sourceWatch.stop(), refusing.stop()])
    }
  })

  test('a pull-only user is refused before anything is copied', async () => {
    const reg = registries.token
    await seedImage(source, 'src/ro', 'v1', { layers: [1024], index: false })
    await expect(
      run({
        ...sourceInputs('src/ro', 'v1'),
        destination: `${reg.host}/ro/app`,
        'destination-username': 'reader',
        'destination-password': USERS.reader.password
      })
    ).rejects.toThrow(/did not grant push access; nothing was written/)
    expect(await headDigest(reg, 'ro/app', 'v1')).toBeUndefined()
  })
})
