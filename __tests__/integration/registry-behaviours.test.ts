// How real registries differ from distribution, and what a promotion must do about it: each case
// puts a small front of our own (a forwarder that answers some requests itself, as the named
// registry does) in front of a real docker-registry process. Content cases are in
// registry-behaviours-content.test.ts.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { startRegistry } from '../../scripts/lib/registries.mjs'
import { ACCEPT, blobPresent, headDigest, seedImage } from '../../scripts/lib/images.mjs'
import { startFaultProxy } from '../../scripts/lib/fault-proxy.mjs'
import { startForwarder } from '../../scripts/lib/proxy.mjs'
import {
  answerError,
  closeUpstreamAgent,
  failure,
  manifestPath,
  run,
  upstreamHead
} from '../support/fronts.js'

type Registry = Awaited<ReturnType<typeof startRegistry>>
type Seeded = Awaited<ReturnType<typeof seedImage>>
type Front = { stop: () => Promise<void> }

const KiB = 1024
const TIMEOUT = 60_000

// Two people, one registry: alice may read src/*, bob may write dst/* and read nothing else. The
// bcrypt hashes were made with Python's crypt (METHOD_BLOWFISH); the token server checks the passwords.
const TEAM = {
  alice: {
    password: 'alice-Reads-src-Pa55',
    bcrypt: '$2b$05$0xOTFsX11Rr7gBYaG8WiuuxaAyZb1gV9rAxmlyA8CODACV85BAeB2',
    actions: ['pull', 'push']
  },
  bob: {
    password: 'bob-Pushes-dst-Pa55',
    bcrypt: '$2b$05$62WkyV.boC6.7hV6zWY2tOsW71IIbhk62cqUIbG/U6QOHwWv./F2a',
    actions: ['pull', 'push']
  }
}

/** GHCR and Harbor grant per repository: each side's credentials see only their own repositories. */
function grants(user: string, repository: string): string[] {
  if (user === 'alice' && repository.startsWith('src/')) return ['pull']
  if (user === 'bob' && repository.startsWith('dst/')) return ['pull', 'push']
  return []
}

let source: Registry
let dest: Registry
let team: Registry
const fronts: Front[] = []

beforeAll(async () => {
  ;[source, dest, team] = await Promise.all([
    startRegistry({ auth: 'none', name: 'behaviours-source' }),
    startRegistry({ auth: 'none', name: 'behaviours-dest' }),
    startRegistry({ auth: 'token', name: 'behaviours-grants', users: TEAM, grants })
  ])
}, TIMEOUT)

afterAll(async () => {
  await Promise.all(fronts.map((f) => f.stop()))
  await Promise.all([source, dest, team].filter(Boolean).map((r) => r.stop()))
  await closeUpstreamAgent()
}, TIMEOUT)

/** A front that the suite stops in afterAll, whatever happens in the test. */
async function front<T extends Front>(started: Promise<T>): Promise<T> {
  const f = await started
  fronts.push(f)
  return f
}

let counter = 0
const fresh = (prefix: string): string => `${prefix}/case${++counter}`

async function expectAllBlobs(registry: Registry, repo: string, image: Seeded): Promise<void> {
  for (const digest of image.blobs.keys()) expect(await blobPresent(registry, repo, digest)).toBe(true)
}

describe('a cross-repository mount the token does not allow (GHCR, Harbor: separate credentials per side)', () => {
  test(
    'falls back to copying the bytes, and asks to mount from that repository only once',
    async () => {
      const image = await seedImage(team, 'src/app', 'v1', {
        platforms: ['linux/amd64', 'linux/arm64'],
        sharedLayers: [1536 * KiB],
        layers: [40 * KiB]
      })
      // Source and destination on the same host, so the engine tries a mount; the front counts them.
      const watch = await front(startForwarder(team.url))
      const result = await run({
        source: `${watch.host}/src/app:v1`,
        'source-username': 'alice',
        'source-password': TEAM.alice.password,
        destination: `${watch.host}/dst/app`,
        'destination-username': 'bob',
        'destination-password': TEAM.bob.password,
        concurrency: '1'
      })
      expect(result.result).toBe('copied')
      expect(await headDigest(team, 'dst/app', 'v1')).toBe(image.digest)
      await expectAllBlobs(team, 'dst/app', image)
      expect(result.log.some((l) => /mount/i.test(l) && /refused|fall/i.test(l))).toBe(true)
      // One refusal is enough: no second ask for the same blob (a re-authentication) nor for the others.
      const mounts = watch.seen.filter((r) => r.method === 'POST' && r.url.includes('mount='))
      expect(mounts.length).toBeLessThanOrEqual(1)
    },
    TIMEOUT
  )
})

describe('a mount the registry itself refuses (the token cannot tell in advance)', () => {
  test.each([
    ['403 DENIED', 403],
    ['404 BLOB_UNKNOWN', 404],
    ['a 202 upload session instead of 201', 202]
  ])(
    'on %s: falls back to copying the bytes, and asks only once',
    async (_what, status) => {
      const image = await seedImage(source, 'src/mount', `v${status}`, { layers: [64 * KiB, 3 * KiB] })
      // Source and destination on one plain registry: no token, so nothing tells the engine in
      // advance that the mount will be refused; the front refuses as the named answer does.
      const refusing = await front(
        startForwarder(source.url, (req, res) => {
          if (req.method !== 'POST' || !req.url?.includes('mount=')) return false
          if (status === 202) {
            // Distribution's own behaviour when it cannot mount: a normal upload session. Opened
            // here without the mount parameters, so the registry does exactly that.
            req.url = req.url.replace(/\?.*$/, '')
            return false
          }
          answerError(
            req,
            res,
            status,
            status === 403 ? 'DENIED' : 'BLOB_UNKNOWN',
            'mount refused by test front'
          )
          return true
        })
      )
      const repo = fresh('dst')
      const result = await run({
        source: `${refusing.host}/src/mount:v${status}`,
        destination: `${refusing.host}/${repo}`,
        concurrency: '1'
      })
      expect(result.result).toBe('copied')
      expect(await headDigest(source, repo, `v${status}`)).toBe(image.digest)
      await expectAllBlobs(source, repo, image)
      expect(result.log.some((l) => /refused to mount blobs from src\/mount/.test(l))).toBe(true)
      const mounts = refusing.seen.filter((r) => r.method === 'POST' && r.url.includes('mount='))
      expect(mounts).toHaveLength(1)
    },
    TIMEOUT
  )
})

describe('403 for what is absent (Artifactory virtual repositories)', () => {
  // Artifactory answers a HEAD of a manifest or blob it does not hold with 403 and no body.
  const artifactory = (extra: Record<string, unknown> = {}) =>
    front(
      startFaultProxy(dest.url, {
        rules: [{ method: 'HEAD', times: Infinity, fault: { mapStatus: { 404: 403 } } }],
        ...extra
      })
    )

  test(
    'a 403 to an existence check is absence: the promotion copies',
    async () => {
      const image = await seedImage(source, 'src/arti', 'v1', { platforms: ['linux/amd64', 'linux/arm64'] })
      const proxy = await artifactory()
      const repo = fresh('arti')
      const result = await run({ source: `${source.host}/src/arti:v1`, destination: `${proxy.host}/${repo}` })
      expect(result.result).toBe('copied')
      expect(await headDigest(dest, repo, 'v1')).toBe(image.digest)
      await expectAllBlobs(dest, repo, image)
      expect(proxy.stats.injected['status 404 as 403']).toBeGreaterThan(0)
    },
    TIMEOUT
  )

  test(
    'a 403 to a write stays an error',
    async () => {
      await seedImage(source, 'src/arti-denied', 'v1', { layers: [2 * KiB], index: false })
      const proxy = await artifactory({
        intercept: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
          const m = manifestPath(req.url)
          if (req.method !== 'PUT' || !m || m.reference.startsWith('sha256:')) return false
          answerError(req, res, 403, 'DENIED', 'Forbidden: the user has no deploy permission on this path')
          return true
        }
      })
      const repo = fresh('arti')
      const { message } = await failure({
        source: `${source.host}/src/arti-denied:v1`,
        destination: `${proxy.host}/${repo}`
      })
      expect(message).toMatch(/PUT manifest|write tag/)
      expect(message).toMatch(/403/)
      expect(await headDigest(dest, repo, 'v1')).toBeUndefined()
    },
    TIMEOUT
  )
})

describe('immutable tags (ECR)', () => {
  /** ECR with tag immutability: a PUT of a tag that exists is refused, whatever digest it carries. */
  const ecr = (rules: unknown[] = []) =>
    front(
      startFaultProxy(dest.url, {
        rules,
        intercept: async (req, res) => {
          const m = manifestPath(req.url)
          if (req.method !== 'PUT' || !m || m.reference.startsWith('sha256:')) return false
          const head = await upstreamHead(dest.url, req.url ?? '', { accept: ACCEPT })
          if (head.status !== 200) return false
          answerError(
            req,
            res,
            400,
            'TAG_INVALID',
            `The image tag '${m.reference}' already exists in the '${m.name}' repository and cannot be ` +
              'overwritten because the repository is immutable.'
          )
          return true
        }
      })
    )

  test(
    'a tag write whose answer was lost, refused on retry as immutable, counts as written',
    async () => {
      const image = await seedImage(source, 'src/immutable', 'v1', { layers: [8 * KiB], index: false })
      const repo = fresh('immutable')
      // The first PUT of the tag reaches the registry; the front then drops the connection unanswered.
      const proxy = await ecr([
        { method: 'PUT', path: /\/manifests\/v1$/, times: 1, fault: { dropResponse: true } }
      ])
      const result = await run({
        source: `${source.host}/src/immutable:v1`,
        destination: `${proxy.host}/${repo}`
      })
      expect(proxy.stats.injected['response dropped']).toBe(1)
      expect(proxy.stats.log.filter((r) => r.method === 'PUT' && /manifests\/v1$/.test(r.url)).length).toBe(2)
      expect(result.result).toBe('copied')
      expect(result.tagOutcomes).toEqual([
        { tag: 'v1', floating: false, before: undefined, outcome: 'written' }
      ])
      expect(await headDigest(dest, repo, 'v1')).toBe(image.digest)
    },
    TIMEOUT
  )

  test(
    'overwrite of a tag holding another digest fails in the registry’s words',
    async () => {
      await seedImage(source, 'src/immutable-new', 'v1', { layers: [4 * KiB], index: false })
      const repo = fresh('immutable')
      const held = await seedImage(dest, repo, 'v1', { layers: [3 * KiB], index: false })
      const proxy = await ecr()
      const { message } = await failure({
        source: `${source.host}/src/immutable-new:v1`,
        destination: `${proxy.host}/${repo}`,
        'if-exists': 'overwrite'
      })
      expect(message).toContain('cannot be overwritten because the repository is immutable')
      expect(message).toMatch(/immutable/)
      // It says what the tag holds, which no overwrite can move.
      expect(message).toContain(held.digest)
      expect(await headDigest(dest, repo, 'v1')).toBe(held.digest)
    },
    TIMEOUT
  )
})

describe('anonymous pulls behind a Basic challenge (Nexus)', () => {
  const NEXUS = { 'www-authenticate': 'Basic realm="Sonatype Nexus Repository Manager"' }
  const unauthorized = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) =>
    answerError(req, res, 401, 'UNAUTHORIZED', 'access to the requested resource is not authorized', NEXUS)

  test(
    'a /v2/ that challenges Basic yet serves anonymous pulls is read without credentials',
    async () => {
      const image = await seedImage(source, 'src/nexus', 'v1', { platforms: ['linux/amd64', 'linux/arm64'] })
      // Nexus with anonymous access on: GET /v2/ still answers 401 Basic; everything else is served.
      const nexus = await front(
        startForwarder(source.url, (req, res) => {
          if (req.method !== 'GET' || req.url !== '/v2/') return false
          unauthorized(req, res)
          return true
        })
      )
      const repo = fresh('nexus')
      const result = await run({ source: `${nexus.host}/src/nexus:v1`, destination: `${dest.host}/${repo}` })
      expect(result.result).toBe('copied')
      expect(await headDigest(dest, repo, 'v1')).toBe(image.digest)
      await expectAllBlobs(dest, repo, image)
    },
    TIMEOUT
  )

  test(
    'a Nexus that refuses everything: the error names the inputs to set',
    async () => {
      const nexus = await front(
        startForwarder(source.url, (req, res) => {
          unauthorized(req, res)
          return true
        })
      )
      const { message } = await failure({
        source: `${nexus.host}/src/nexus:v1`,
        destination: `${dest.host}/x/y`
      })
      expect(message).toMatch(/credentials/)
      expect(message).toMatch(/source-username/)
      expect(message).toMatch(/source-password/)
    },
    TIMEOUT
  )
})

describe('what is missing at the source', () => {
  test(
    'a tag missing from a repository that exists',
    async () => {
      await seedImage(source, 'src/present', 'v1', { layers: [KiB], index: false })
      const { message } = await failure({
        source: `${source.host}/src/present:nope`,
        destination: `${dest.host}/x/y`
      })
      expect(message).toMatch(/tag/)
      expect(message).toMatch(/not found/i)
      // distribution 2.8: {"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"...}]}
      expect(message).toContain('MANIFEST_UNKNOWN')
    },
    TIMEOUT
  )

  test(
    'a repository that does not exist (distribution: MANIFEST_UNKNOWN on the manifest, NAME_UNKNOWN on its tags)',
    async () => {
      const { message } = await failure({
        source: `${source.host}/never/pushed:v1`,
        destination: `${dest.host}/x/y`
      })
      expect(message).toMatch(/repository/)
      expect(message).toMatch(/does not exist/)
      expect(message).toContain('NAME_UNKNOWN')
    },
    TIMEOUT
  )

  test(
    'ECR’s NAME_UNKNOWN: the error carries the registry’s own message',
    async () => {
      const said = "The repository with name 'nope' does not exist in the registry with id '123456789012'"
      const ecr = await front(
        startForwarder(source.url, (req, res) => {
          if (!manifestPath(req.url)) return false
          answerError(req, res, 404, 'NAME_UNKNOWN', said)
          return true
        })
      )
      const { message } = await failure({ source: `${ecr.host}/nope:v1`, destination: `${dest.host}/x/y` })
      expect(message).toContain(said)
      expect(message).toMatch(/does not exist/)
    },
    TIMEOUT
  )
})
