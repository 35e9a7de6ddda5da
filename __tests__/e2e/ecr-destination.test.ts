// ECR as the destination, run as the runner runs dist/index.js: the destination repository's tag
// mutability (IMMUTABLE, and the _WITH_EXCLUSION forms with their wildcard filters) is read with
// DescribeRepositories before anything is written, so a tag ECR would refuse to move fails the step
// early instead of half-way; a missing repository is created (create-repository: true) or covered by a
// repository creation template (CREATE_ON_PUSH), else refused before any write. One TLS registry
// under the ECR host name serves both sides (build/app -> release/...); its access log shows that a
// refused promotion sent the destination repository no write at all.
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals'
import { errorsOf, runAction } from '../../scripts/lib/action.mjs'
import { headDigest, seedImage } from '../../scripts/lib/images.mjs'
import { ECR_HOST, ECR_PASSWORD } from '../../scripts/lib/fake-aws.mjs'
import type { RepositorySettings } from '../../scripts/lib/fake-ecr-api.mjs'
import { digestTag, generateKeyPair, signCosign } from '../../scripts/lib/trust-fixtures.mjs'
import { ecrInputs, expectUntouched, startEcrEnv, type EcrEnv } from '../support/ecr-env.js'

type Image = Awaited<ReturnType<typeof seedImage>>
let env: EcrEnv
let image: Image

beforeAll(async () => {
  env = await startEcrEnv({ name: 'ecr-dst' })
  image = await seedImage(env.ecr, 'build/app', '1.4.2', {
    platforms: ['linux/amd64', 'linux/arm64'],
    sharedLayers: [4096],
    layers: [1024],
    format: 'oci'
  })
  env.aws.state.repositories.set('build/app', { imageTagMutability: 'IMMUTABLE' })
})

afterAll(async () => {
  await env?.stop()
})

afterEach(() => {
  env.aws.state.templates.splice(0)
})

/** The destination repository exists in ECR with these settings. */
const repository = (name: string, settings: RepositorySettings) =>
  env.aws.state.repositories.set(name, settings)

/** Another image already at `repository:tag` (what an overwrite would replace). */
const existing = (name: string, tag: string) =>
  seedImage(env.ecr, name, tag, { layers: [777], index: false, seed: `old-${name}:${tag}` })

/** Promotes ${ECR_HOST}/build/app:1.4.2 to ${ECR_HOST}/<name>. */
async function promote(name: string, extra: Record<string, string> = {}) {
  const mark = env.ecrLog.mark()
  const run = await runAction(
    ecrInputs({ source: `${ECR_HOST}/build/app:1.4.2`, destination: `${ECR_HOST}/${name}`, ...extra }),
    { env: env.env() }
  )
  return { run, mark, name }
}

type Promotion = Awaited<ReturnType<typeof promote>>

/** Refused with all of `phrases`; nothing reached the repository but reads, each tag is where it was. */
async function expectRefused(
  p: Promotion,
  phrases: (string | RegExp)[],
  tags: Record<string, string | undefined>
): Promise<void> {
  const errors = errorsOf(p.run).join('\n')
  for (const phrase of phrases) {
    if (typeof phrase === 'string') expect(errors).toContain(phrase)
    else expect(errors).toMatch(phrase)
  }
  expect(p.run.code).toBe(1)
  expect(p.run.stdout).not.toMatch(/ copied in /)
  await expectUntouched(env.ecr, env.ecrLog, p.mark, p.name, { [image.digest]: undefined, ...tags })
}

/** Promoted: no error, each tag at the promoted digest. */
async function expectPromoted(p: Promotion, tags: string[]): Promise<void> {
  expect(errorsOf(p.run)).toEqual([])
  expect(p.run.code).toBe(0)
  expect(p.run.outputs.digest).toBe(image.digest)
  for (const tag of tags) expect([tag, await headDigest(env.ecr, p.name, tag)]).toEqual([tag, image.digest])
}

const describedRepositories = () => env.aws.state.repositoryCalls.flatMap((c) => c.repositoryNames ?? [])
const createdRepositories = () => env.aws.state.createCalls.map((c) => c.repositoryName)

describe('digest tags of the trust chain', () => {
  test("IMMUTABLE, and the destination's .sig holds another signature: refused before any write, the .sig unchanged", async () => {
    const signed = await seedImage(env.ecr, 'build/signed', '1.4.2', {
      layers: [2048],
      index: false,
      seed: 'signed'
    })
    const root = { digest: signed.digest, mediaType: signed.mediaType, size: signed.bytes.length }
    await signCosign(env.ecrNamed, 'build/signed', root, generateKeyPair())
    // The destination already has the image, signed by someone else, under an immutable .sig.
    await seedImage(env.ecr, 'release/sig-immutable', 'other', {
      layers: [2048],
      index: false,
      seed: 'signed'
    })
    const theirs = await signCosign(env.ecrNamed, 'release/sig-immutable', root, generateKeyPair())
    repository('release/sig-immutable', { imageTagMutability: 'IMMUTABLE' })
    const sigTag = digestTag(signed.digest, 'sig')
    const mark = env.ecrLog.mark()
    const run = await runAction(
      ecrInputs({
        source: `${ECR_HOST}/build/signed:1.4.2`,
        destination: `${ECR_HOST}/release/sig-immutable`
      }),
      { env: env.env() }
    )
    const errors = errorsOf(run).join('\n')
    for (const phrase of [
      sigTag,
      'holds other signatures',
      'immutable there (IMMUTABLE)',
      'filter sha256-*',
      'nothing was written'
    ]) {
      expect(errors).toContain(phrase)
    }
    expect(run.code).toBe(1)
    await expectUntouched(env.ecr, env.ecrLog, mark, 'release/sig-immutable', {
      '1.4.2': undefined,
      [sigTag]: theirs.manifest.digest
    })
  })
})

describe('tag mutability of the destination repository', () => {
  test('MUTABLE: an overwrite and a floating latest move (setup check)', async () => {
    repository('release/mutable', { imageTagMutability: 'MUTABLE' })
    await existing('release/mutable', '1.4.2')
    await existing('release/mutable', 'latest')
    const p = await promote('release/mutable', { 'if-exists': 'overwrite', 'floating-tags': 'latest' })
    await expectPromoted(p, ['1.4.2', 'latest'])
    expect(p.run.outputs.tags).toBe('1.4.2,latest')
  })

  test('IMMUTABLE: a new tag is written (only moving a tag is refused)', async () => {
    repository('release/fresh', { imageTagMutability: 'IMMUTABLE' })
    const p = await promote('release/fresh')
    await expectPromoted(p, ['1.4.2'])
    expect(describedRepositories()).toContain('release/fresh')
  })

  test('IMMUTABLE with floating-tags latest: refused before any write, naming latest and IMMUTABLE', async () => {
    repository('release/app', { imageTagMutability: 'IMMUTABLE' })
    const p = await promote('release/app', { 'floating-tags': 'latest' })
    await expectRefused(p, ['latest', 'immutable', 'IMMUTABLE'], { '1.4.2': undefined, latest: undefined })
    expect(describedRepositories()).toContain('release/app')
  })

  test('IMMUTABLE with if-exists overwrite over another digest: refused before any write, the old tag stays', async () => {
    repository('release/pinned', { imageTagMutability: 'IMMUTABLE' })
    const old = await existing('release/pinned', '1.4.2')
    const p = await promote('release/pinned', { 'if-exists': 'overwrite' })
    await expectRefused(p, ['1.4.2', 'immutable', 'IMMUTABLE'], { '1.4.2': old.digest })
  })

  test('IMMUTABLE_WITH_EXCLUSION with filter latest*: latest is excluded, so it moves', async () => {
    repository('release/excluded', {
      imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
      imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'latest*' }]
    })
    await existing('release/excluded', 'latest')
    const p = await promote('release/excluded', { 'floating-tags': 'latest' })
    await expectPromoted(p, ['1.4.2', 'latest'])
  })

  test('IMMUTABLE_WITH_EXCLUSION whose filters miss latest: refused, naming the rule and the filters', async () => {
    repository('release/excl-miss', {
      imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
      imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'stable*' }]
    })
    const p = await promote('release/excl-miss', { 'floating-tags': 'latest' })
    await expectRefused(p, ['latest', 'immutable', 'IMMUTABLE_WITH_EXCLUSION', 'stable*'], {
      '1.4.2': undefined,
      latest: undefined
    })
  })

  test('MUTABLE_WITH_EXCLUSION with filter 1.*: overwriting 1.4.2 is refused, the old tag stays', async () => {
    repository('release/mutexcl', {
      imageTagMutability: 'MUTABLE_WITH_EXCLUSION',
      imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: '1.*' }]
    })
    const old = await existing('release/mutexcl', '1.4.2')
    const p = await promote('release/mutexcl', { 'if-exists': 'overwrite' })
    await expectRefused(p, ['1.4.2', 'immutable', 'MUTABLE_WITH_EXCLUSION', '1.*'], { '1.4.2': old.digest })
  })
})

describe('a destination repository that does not exist', () => {
  test('without create-repository: refused before any write, naming create-repository: true; nothing created', async () => {
    // Templates that do not cover it: another prefix, and this prefix for replication only.
    env.aws.state.templates.push(
      { prefix: 'team/', appliedFor: ['CREATE_ON_PUSH'] },
      { prefix: 'release/', appliedFor: ['REPLICATION'] }
    )
    const p = await promote('release/missing')
    await expectRefused(p, ['release/missing', 'does not exist', 'create-repository: true'], {
      '1.4.2': undefined
    })
    expect(describedRepositories()).toContain('release/missing')
    expect(createdRepositories()).not.toContain('release/missing')
    expect(env.aws.state.repositories.has('release/missing')).toBe(false)
  })

  test('create-repository: true with repository-tag-mutability IMMUTABLE: created with scan on push, then promoted', async () => {
    const p = await promote('release/created', {
      'create-repository': 'true',
      'repository-tag-mutability': 'IMMUTABLE'
    })
    await expectPromoted(p, ['1.4.2'])
    const calls = env.aws.state.createCalls.filter((c) => c.repositoryName === 'release/created')
    expect(calls).toEqual([
      expect.objectContaining({
        repositoryName: 'release/created',
        imageTagMutability: 'IMMUTABLE',
        imageScanningConfiguration: { scanOnPush: true }
      })
    ])
    expect(p.run.stdout).toMatch(/created/)
    expect(env.aws.state.repositories.get('release/created')?.imageTagMutability).toBe('IMMUTABLE')
  })

  test('create-repository: true alone: created MUTABLE', async () => {
    const p = await promote('release/created-mutable', { 'create-repository': 'true' })
    await expectPromoted(p, ['1.4.2'])
    const calls = env.aws.state.createCalls.filter((c) => c.repositoryName === 'release/created-mutable')
    expect(calls).toHaveLength(1)
    expect(calls[0].imageTagMutability ?? 'MUTABLE').toBe('MUTABLE')
    expect(calls[0].imageScanningConfiguration).toEqual({ scanOnPush: true })
  })

  test('a creation template (release/, CREATE_ON_PUSH) covers it: no CreateRepository, the log names the template, promoted', async () => {
    env.aws.state.templates.push({ prefix: 'release/', appliedFor: ['CREATE_ON_PUSH'] })
    const templateCallsBefore = env.aws.state.templateCalls.length
    const p = await promote('release/templated', { 'create-repository': 'true' })
    await expectPromoted(p, ['1.4.2'])
    expect(createdRepositories()).not.toContain('release/templated')
    expect(env.aws.state.templateCalls.length).toBeGreaterThan(templateCallsBefore)
    expect(p.run.stdout.split('\n').some((l) => /template/i.test(l) && l.includes('release/'))).toBe(true)
  })

  test('a template prefix is a namespace: "rel" does not cover release/..., so the repository is created', async () => {
    env.aws.state.templates.push({
      prefix: 'rel',
      appliedFor: ['CREATE_ON_PUSH'],
      imageTagMutability: 'IMMUTABLE'
    })
    const p = await promote('release/not-rel', { 'create-repository': 'true', 'floating-tags': 'latest' })
    await expectPromoted(p, ['1.4.2', 'latest'])
    expect(createdRepositories()).toContain('release/not-rel')
  })

  test('explicit ECR credentials and no AWS identity: promoted without asking the ECR API', async () => {
    repository('release/explicit', { imageTagMutability: 'MUTABLE' })
    const login = { username: 'AWS', password: ECR_PASSWORD }
    const p = await promote('release/explicit', {
      'role-to-assume': '',
      'source-username': login.username,
      'source-password': login.password,
      'destination-username': login.username,
      'destination-password': login.password
    })
    await expectPromoted(p, ['1.4.2'])
    expect(describedRepositories()).not.toContain('release/explicit')
  })

  test('a ROOT creation template covers any name: no CreateRepository, promoted', async () => {
    env.aws.state.templates.push({ prefix: 'ROOT', appliedFor: ['CREATE_ON_PUSH'] })
    const p = await promote('other/rooted', { 'create-repository': 'true' })
    await expectPromoted(p, ['1.4.2'])
    expect(createdRepositories()).not.toContain('other/rooted')
    expect(p.run.stdout).toMatch(/template/i)
  })
})
