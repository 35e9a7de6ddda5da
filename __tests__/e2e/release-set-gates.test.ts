// Gates in a release set (input `images`), run as the runner runs dist/index.js: when any gate is
// configured no image of the set writes anything (no blob upload, no manifest, no tag) until every
// image has passed its gates, so a refusal of one line leaves the destination untouched for all.
//
// Each refusal is arranged so that, without that barrier, line 1 would write first: line 1 is a
// few MiB that passes its gate at once, while line 2 is refused late. For the signature gate line
// 2's source is named ECR_SLOW_HOST (the same registry over a link with 150 ms of latency each way,
// see ecr-env.ts), so its resolve and signature lookup take well over a second; for the scan gate
// line 2's scan is IN_PROGRESS at first, so its gate polls (at least 1 s) before it sees the
// finding. A build with the barrier removed fails (a) and (c) with line 1's uploads in the log.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { errorsOf, runAction } from '../../scripts/lib/action.mjs'
import { headDigest, seedImage } from '../../scripts/lib/images.mjs'
import { ECR_HOST } from '../../scripts/lib/fake-aws.mjs'
import { basicScan, scanStatus } from '../../scripts/lib/fake-ecr-api.mjs'
import { digestTag, generateKeyPair, signCosign } from '../../scripts/lib/trust-fixtures.mjs'
import { ECR_SLOW_HOST, ecrSetInputs, expectUntouched, type EcrEnv } from '../support/ecr-env.js'
import { destLogin, startGateEnv, subject, type Image } from '../support/gate-fixtures.js'

const MiB = 1024 * 1024
const key = generateKeyPair()
const keyPem = String(key.publicKeyPem)
let env: EcrEnv
const images: Record<string, Image> = {}

beforeAll(async () => {
  env = await startGateEnv('set-gates', { slowLinkMs: 150 })
  // Line 1 of each set: 6 MiB over two platforms (signed), and 5 MiB on one (scanned clean).
  images.big = await seedImage(env.ecr, 'app', 'big', {
    platforms: ['linux/amd64', 'linux/arm64'],
    layers: [2 * MiB],
    sharedLayers: [2 * MiB]
  })
  images.clean = await seedImage(env.ecr, 'app', 'clean', { layers: [3 * MiB, 2 * MiB] })
  for (const tag of ['unsigned', 'signed', 'critical']) images[tag] = await seedImage(env.ecr, 'worker', tag)
  await signCosign(env.ecrNamed, 'app', subject(images.big), key)
  await signCosign(env.ecrNamed, 'worker', subject(images.signed), key)
})

afterAll(async () => {
  await env?.stop()
})

/** Promotes each [source, name] line to <dest>/<set>/<name> as one release set with the gate inputs given. */
async function promoteSet(set: string, lines: [string, string][], gates: Record<string, string>) {
  const mark = env.destLog!.mark()
  const run = await runAction(
    ecrSetInputs(
      lines.map(([source, name]) => `${source} ${env.dest!.host}/${set}/${name}`),
      { ...destLogin, ...gates }
    ),
    { env: env.env() }
  )
  return { run, mark }
}

/** Where a line's first blob was copied in the log (-1: none was). */
const firstCopy = (stdout: string, name: string) =>
  stdout.split('\n').findIndex((l) => l.startsWith(`[${name}] `) && l.includes(' copied in '))

describe('a release set with gates writes nothing until every line has passed', () => {
  test('require-signature-key, line 1 signed, line 2 unsigned: fails naming line 2; no write for either image', async () => {
    const { run, mark } = await promoteSet(
      'sig-refused',
      [
        [`${ECR_HOST}/app:big`, 'app'],
        [`${ECR_SLOW_HOST}/worker:unsigned`, 'worker']
      ],
      { 'require-signature-key': keyPem }
    )
    const errors = errorsOf(run).join('\n')
    expect(errors).toContain('image on line 2')
    expect(errors).toContain('no signature')
    expect(errors).toContain('no release tag was written for any image of the set')
    expect(run.code).toBe(1)
    // Line 1 had passed its gate, and was held: nothing of it was copied.
    expect(run.stdout).toContain('[app#1] signature gate passed')
    expect(firstCopy(run.stdout, 'app#1')).toBe(-1)
    await expectUntouched(env.dest!, env.destLog!, mark, 'sig-refused/app', {
      big: undefined,
      [images.big.digest]: undefined,
      [digestTag(images.big.digest, 'sig')]: undefined
    })
    await expectUntouched(env.dest!, env.destLog!, mark, 'sig-refused/worker', {
      unsigned: undefined,
      [images.unsigned.digest]: undefined
    })
  })

  test('concurrency 2: every shared slot held by a blob waiting for the gates, the refusal still comes', async () => {
    // The signature gate's discovery has its own budget; were it on the set's, it would wait for
    // slots the held blobs never give back, and the step would hang.
    const { run, mark } = await promoteSet(
      'sig-narrow',
      [
        [`${ECR_HOST}/app:big`, 'app'],
        [`${ECR_SLOW_HOST}/worker:unsigned`, 'worker']
      ],
      { 'require-signature-key': keyPem, concurrency: '2' }
    )
    expect(errorsOf(run).join('\n')).toContain('no signature')
    expect(run.code).toBe(1)
    await expectUntouched(env.dest!, env.destLog!, mark, 'sig-narrow/app', { big: undefined })
  })

  test('require-signature-key, both lines signed: both promoted, each logs its gate passing, line 1 copies only after line 2 passed', async () => {
    const sts = env.aws.state.stsCalls.length
    const logins = env.aws.state.ecrCalls.length
    const { run } = await promoteSet(
      'sig-passed',
      [
        [`${ECR_HOST}/app:big`, 'app'],
        [`${ECR_SLOW_HOST}/worker:signed`, 'worker']
      ],
      { 'require-signature-key': keyPem }
    )
    expect(errorsOf(run)).toEqual([])
    expect(run.code).toBe(0)
    expect(run.outputs.result).toBe('copied')
    const promoted = JSON.parse(run.outputs.images) as { digest: string; result: string }[]
    expect(promoted.map((i) => [i.digest, i.result])).toEqual([
      [images.big.digest, 'copied'],
      [images.signed.digest, 'copied']
    ])
    expect(await headDigest(env.dest!, 'sig-passed/app', 'big')).toBe(images.big.digest)
    expect(await headDigest(env.dest!, 'sig-passed/worker', 'signed')).toBe(images.signed.digest)
    expect(run.stdout.match(/signature gate passed/g)).toHaveLength(2)
    const lines = run.stdout.split('\n')
    const passed = (name: string) => lines.findIndex((l) => l.startsWith(`[${name}] signature gate passed`))
    expect(passed('app#1')).toBeGreaterThanOrEqual(0)
    expect(passed('worker#2')).toBeGreaterThanOrEqual(0)
    expect(firstCopy(run.stdout, 'app#1')).toBeGreaterThan(passed('worker#2'))
    // The set shares one AWS session: the role is assumed once, and each ECR registry logged in once.
    expect(env.aws.state.stsCalls.length - sts).toBe(1)
    expect(env.aws.state.ecrCalls.length - logins).toBe(2)
  })

  test('fail-on-scan-severity, line 2 CRITICAL (after a scan in progress), line 1 clean: fails naming line 2; no write for either image', async () => {
    env.aws.state.scans.set(`app@${images.clean.digest}`, [basicScan({}, [])])
    env.aws.state.scans.set(`worker@${images.critical.digest}`, [
      scanStatus('IN_PROGRESS'),
      basicScan({ CRITICAL: 1 }, [['CVE-2024-8888', 'CRITICAL', 'musl', '1.2.3']])
    ])
    const { run, mark } = await promoteSet(
      'scan-refused',
      [
        [`${ECR_HOST}/app:clean`, 'app'],
        [`${ECR_HOST}/worker:critical`, 'worker']
      ],
      { 'fail-on-scan-severity': 'high', 'scan-wait-seconds': '10' }
    )
    const errors = errorsOf(run).join('\n')
    expect(errors).toContain('image on line 2')
    expect(errors).toContain('scan gate')
    expect(errors).toContain('CVE-2024-8888')
    expect(errors).toContain('no release tag was written for any image of the set')
    expect(run.code).toBe(1)
    // Line 2 saw its finding only on its second look; line 1 had passed by then, and was held.
    const asked = env.aws.state.scanCalls.filter((c) => c.key === `worker@${images.critical.digest}`)
    expect(asked.map((c) => c.answer)).toEqual([0, 1])
    expect(run.stdout).toContain('[app#1] scan gate passed')
    expect(firstCopy(run.stdout, 'app#1')).toBe(-1)
    await expectUntouched(env.dest!, env.destLog!, mark, 'scan-refused/app', {
      clean: undefined,
      [images.clean.digest]: undefined
    })
    await expectUntouched(env.dest!, env.destLog!, mark, 'scan-refused/worker', {
      critical: undefined,
      [images.critical.digest]: undefined
    })
  })
})
