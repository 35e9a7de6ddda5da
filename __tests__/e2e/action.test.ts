// The committed bundle, run as the GitHub runner runs it: INPUT_* variables, GITHUB_OUTPUT,
// GITHUB_STEP_SUMMARY, a fresh `node dist/index.js` process each time.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { startRegistry, USERS } from '../../scripts/lib/registries.mjs'
import { headDigest, seedImage } from '../../scripts/lib/images.mjs'
import { errorsOf, runAction } from '../../scripts/lib/action.mjs'
import { startForwarder } from '../../scripts/lib/proxy.mjs'
import { expectNoSecrets } from '../support/helpers.js'

type Registry = Awaited<ReturnType<typeof startRegistry>>
let source: Registry
let dest: Registry
let image: Awaited<ReturnType<typeof seedImage>>

const MiB = 1024 * 1024
const destCreds = { 'destination-username': 'promoter', 'destination-password': USERS.promoter.password }
const secrets = [USERS.promoter.password, USERS.reader.password]

beforeAll(async () => {
  ;[source, dest] = await Promise.all([
    startRegistry({ auth: 'basic', name: 'src' }),
    startRegistry({ auth: 'token', name: 'dst' })
  ])
  image = await seedImage(source, 'app', '1.4.2', {
    platforms: ['linux/amd64', 'linux/arm64'],
    sharedLayers: [2 * MiB],
    layers: [512 * 1024],
    format: 'docker'
  })
})
afterAll(async () => Promise.all([source?.stop(), dest?.stop()]))

const srcInputs = { source: '', 'source-username': 'reader', 'source-password': USERS.reader.password }
const from = (ref: string) => ({ ...srcInputs, source: `${source.host}/${ref}` })

describe('node dist/index.js', () => {
  test('promotes, sets every output, writes the summary, then a re-run is a no-op', async () => {
    const inputs = {
      ...from('app:1.4.2'),
      destination: `${dest.host}/acme/app`,
      'floating-tags': 'latest\n1.4',
      ...destCreds
    }
    const run = await runAction(inputs)
    expect(run.code).toBe(0)
    expect(run.outputs).toEqual({
      digest: image.digest,
      image: `${dest.host}/acme/app@${image.digest}`,
      result: 'copied',
      tags: '1.4.2,latest,1.4',
      platforms: '["linux/amd64","linux/arm64"]',
      referrers: '[]'
    })
    expect(await headDigest(dest, 'acme/app', '1.4.2')).toBe(image.digest)
    expect(run.summary).toContain('ecr-promote: copied')
    expect(run.summary).toContain(image.digest)
    expect(run.stdout).toMatch(/::group::Copy content/)
    expect(run.stdout).toMatch(/blobs: 5 copied/)
    expectNoSecrets(run, secrets)

    const again = await runAction(inputs)
    expect(again.code).toBe(0)
    expect(again.outputs.result).toBe('unchanged')
    expect(again.outputs.digest).toBe(image.digest)
    // The source: its manifest, its tag list and a referrers question per manifest (index, 2 platforms).
    expect(again.stdout).toMatch(/requests: 5 source, 3 destination/)
    expectNoSecrets(again, secrets)
  })

  test('if-exists fail exits non-zero with one error naming the tag and both digests', async () => {
    const other = await seedImage(dest, 'acme/taken', '1.4.2', { layers: [100], index: false })
    const run = await runAction({
      ...from('app:1.4.2'),
      destination: `${dest.host}/acme/taken`,
      ...destCreds
    })
    expect(run.code).toBe(1)
    const errors = errorsOf(run)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain(`tag "1.4.2" points at ${other.digest}, not at the promoted ${image.digest}`)
    expect(run.outputs).toEqual({})
    expect(await headDigest(dest, 'acme/taken', '1.4.2')).toBe(other.digest)
    expectNoSecrets(run, secrets)
  })

  test('if-exists skip succeeds with result skipped', async () => {
    await seedImage(dest, 'acme/skip', '1.4.2', { layers: [100], index: false })
    const run = await runAction({
      ...from('app:1.4.2'),
      destination: `${dest.host}/acme/skip`,
      'if-exists': 'skip',
      ...destCreds
    })
    expect(run.code).toBe(0)
    expect(run.outputs.result).toBe('skipped')
    expect(run.outputs.tags).toBe('')
  })

  test('dry-run writes nothing', async () => {
    const run = await runAction({
      ...from('app:1.4.2'),
      destination: `${dest.host}/acme/dry`,
      'dry-run': 'true',
      ...destCreds
    })
    expect(run.code).toBe(0)
    expect(run.outputs.digest).toBe(image.digest)
    expect(run.stdout).toMatch(/dry run: would write tags 1\.4\.2; nothing was written/)
    expect(await headDigest(dest, 'acme/dry', '1.4.2')).toBeUndefined()
  })

  test.each([
    [{ source: 'not a reference' }, 'source'],
    [{ 'if-exists': 'sometimes' }, 'if-exists'],
    [{ concurrency: '1000' }, 'concurrency'],
    [{ tags: 'ok,no good' }, 'tags']
  ])('bad input %j fails before any connection, naming %s', async (bad, input) => {
    const watch = await startForwarder(source.url)
    try {
      const run = await runAction({
        ...srcInputs,
        source: `${watch.host}/app:1.4.2`,
        destination: `${watch.host}/x/y:1`,
        ...bad
      })
      expect(run.code).toBe(1)
      const errors = errorsOf(run)
      expect(errors).toHaveLength(1)
      expect(errors[0]).toMatch(new RegExp(`^Input "${input}" `))
      expect(watch.seen).toHaveLength(0)
    } finally {
      await watch.stop()
    }
  })
})

describe('memory', () => {
  test('a 200 MiB layer copies with peak memory well under the layer size', async () => {
    const plainSrc = await startRegistry({ name: 'bigsrc' })
    const plainDst = await startRegistry({ name: 'bigdst' })
    try {
      const big = await seedImage(plainSrc, 'big', 'v1', { layers: [200 * MiB], index: false })
      const run = await runAction(
        { source: `${plainSrc.host}/big:v1`, destination: `${plainDst.host}/big` },
        { measure: true }
      )
      expect(run.code).toBe(0)
      expect(run.outputs.digest).toBe(big.digest)
      expect(await headDigest(plainDst, 'big', 'v1')).toBe(big.digest)
      const peakMiB = run.usage!.maxRssKiB / 1024
      process.stdout.write(
        `200 MiB layer: peak RSS ${peakMiB.toFixed(1)} MiB, ${run.usage!.elapsedSeconds} s\n`
      )
      expect(peakMiB).toBeLessThan(120)
    } finally {
      await Promise.all([plainSrc.stop(), plainDst.stop()])
    }
  })
})
