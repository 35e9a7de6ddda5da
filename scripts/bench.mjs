// npm run bench [-- --quick] [-- --rounds N] [-- --only 1,3]
// Benchmarks the committed bundle against `skopeo copy --all --preserve-digests` on the same local
// registries in the same run, alternating A B A B into fresh destination repositories, and writes
// bench/results/latest.{md,json}. It measures; it never fails on timing.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { startRegistry } from './lib/registries.mjs'
import { headDigest, seedImage } from './lib/images.mjs'
import { ROOT, runAction } from './lib/action.mjs'
import { startDelayForwarder } from './lib/delay-forwarder.mjs'
import { startFaultProxy } from './lib/fault-proxy.mjs'
import {
  attestCosign,
  bundleReferrer,
  digestTag,
  generateKeyPair,
  notationReferrer,
  sbomReferrer,
  signCosign
} from './lib/trust-fixtures.mjs'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const rounds = Number(argValue('--rounds') ?? (quick ? 1 : 3))
const only = argValue('--only')?.split(',').map(Number)
const concurrency = argValue('--concurrency')
const KiB = 1024
const MiB = 1024 * KiB
const scale = quick ? 1 / 16 : 1

function argValue(name) {
  const i = args.indexOf(name)
  return i === -1 ? undefined : args[i + 1]
}

const SCENARIOS = [
  {
    id: 1,
    name: 'large: 2 platforms x 8 layers x 32 MiB, 1 shared',
    image: { platforms: 2, layers: 7, size: 32 * MiB, shared: 1 },
    raw: true
  },
  {
    id: 2,
    name: 'many small: 2 platforms x 60 layers x 100 KiB',
    image: { platforms: 2, layers: 60, size: 100 * KiB },
    raw: true
  },
  {
    id: 3,
    name: 'WAN: scenario 2, 25 ms each way',
    image: { platforms: 2, layers: 60, size: 100 * KiB },
    delayMs: 25
  },
  {
    id: 4,
    name: 're-promotion: destination holds image and tag',
    image: { platforms: 2, layers: 60, size: 100 * KiB },
    repromote: true
  },
  {
    id: 5,
    name: 'memory: 1 platform, one 1 GiB layer',
    image: { platforms: 1, layers: 1, size: 1024 * MiB }
  },
  {
    id: 6,
    name: 'start-up: dry-run against loopback',
    image: { platforms: 1, layers: 1, size: 1 * KiB },
    dryRun: true
  },
  {
    id: 9,
    name: 'signed: scenario 3 with a .sig, an .att, 2 referrers on the index, an SBOM per platform',
    image: { platforms: 2, layers: 60, size: 100 * KiB },
    delayMs: 25,
    signed: true
  },
  {
    id: 11,
    name: 'gated: scenario 9 with require-signature-key (its .sig verified before any write)',
    image: { platforms: 2, layers: 60, size: 100 * KiB },
    delayMs: 25,
    signed: true,
    gated: true
  },
  {
    id: 10,
    name: 'release set: 12 images (6 x 256 KiB, a base layer shared), one step vs 12 runs, 25 ms each way',
    set: { images: 12, layers: 5, size: 256 * KiB, shared: 256 * KiB },
    delayMs: 25
  },
  {
    id: 8,
    name: 'interrupted: one 256 MiB layer, its download cut once halfway',
    image: { platforms: 1, layers: 1, size: 256 * MiB },
    interrupt: true
  }
].filter((s) => !only || only.includes(s.id))

const SKOPEO_CACHES = [
  '/var/lib/containers/cache/blob-info-cache-v1.boltdb',
  '/var/lib/containers/cache/blob-info-cache-v1.sqlite',
  join(process.env.HOME ?? '/root', '.local/share/containers/cache/blob-info-cache-v1.boltdb'),
  join(process.env.HOME ?? '/root', '.local/share/containers/cache/blob-info-cache-v1.sqlite')
]

function median(values) {
  const sorted = values.filter((v) => v !== undefined).sort((a, b) => a - b)
  if (sorted.length === 0) return undefined
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Runs a command under GNU time: wall, CPU seconds and peak RSS. */
async function timed(command, commandArgs, env = process.env) {
  const timeFile = join(ROOT, 'bench', 'results', '.time')
  const started = process.hrtime.bigint()
  const child = spawn('/usr/bin/time', ['-f', '%M %U %S', '-o', timeFile, command, ...commandArgs], {
    env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const code = await new Promise((resolve) => child.on('close', resolve))
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6
  const [rssKiB, user, system] = readFileSync(timeFile, 'utf8')
    .trim()
    .split('\n')
    .pop()
    .split(' ')
    .map(Number)
  if (code !== 0) throw new Error(`${command} exited ${code}: ${output.slice(-2000)}`)
  return { wallMs, cpuSeconds: user + system, rssMiB: rssKiB / 1024, output }
}

async function runOurs(source, dest, repo, scenario) {
  const started = process.hrtime.bigint()
  const run = await runAction(
    {
      source: `${source}/bench:v1`,
      destination: `${dest}/${repo}:v1`,
      'dry-run': scenario.dryRun ? 'true' : undefined,
      'require-signature-key': scenario.gated ? scenario.publicKeyPem : undefined,
      concurrency
    },
    { measure: true }
  )
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6
  if (run.code !== 0)
    throw new Error(`ecr-promote exited ${run.code}: ${run.stdout.slice(-1500)}\n${run.stderr.slice(-1500)}`)
  const copied = /blobs: \d+ copied \(([\d.]+) (B|KiB|MiB|GiB)\)/.exec(run.stdout)
  const unit = { B: 1, KiB: KiB, MiB: MiB, GiB: 1024 * MiB }
  return {
    wallMs,
    cpuSeconds: run.usage.cpuSeconds,
    rssMiB: run.usage.maxRssKiB / 1024,
    bytes: copied ? Number(copied[1]) * unit[copied[2]] : 0,
    resumes: (run.stdout.match(/resuming from there/g) ?? []).length,
    digest: run.outputs.digest
  }
}

async function runSkopeo(source, dest, repo, scenario) {
  for (const cache of SKOPEO_CACHES) rmSync(cache, { force: true })
  const base = ['--src-tls-verify=false', '--dest-tls-verify=false']
  if (scenario.dryRun) {
    // skopeo has no dry run; its nearest equivalent is inspecting the source.
    return timed('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${source}/bench:v1`])
  }
  return timed('skopeo', [
    'copy',
    '--all',
    '--preserve-digests',
    '--quiet',
    // Without retries skopeo fails on a cut download; with them it copies again what it had not.
    ...(scenario.interrupt ? ['--retry-times', '3'] : []),
    ...base,
    `docker://${source}/bench:v1`,
    `docker://${dest}/${repo}:v1`
  ])
}

/** Every blob of the image streamed GET -> PUT with curl, `concurrency` at once: the floor for a copy. */
async function runRaw(source, dest, repo, blobs, parallel) {
  const script = `set -e
d="$1"
loc=$(curl -sS -o /dev/null -w '%{redirect_url}' -X POST "http://${dest}/v2/${repo}/blobs/uploads/")
[ -n "$loc" ] || loc=$(curl -sS -D - -o /dev/null -X POST "http://${dest}/v2/${repo}/blobs/uploads/" | tr -d '\\r' | sed -n 's/^[Ll]ocation: //p')
case "$loc" in *\\?*) sep='&';; *) sep='?';; esac
curl -sS --fail "http://${source}/v2/bench/blobs/$d" | curl -sS --fail -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' -T - "$loc\${sep}digest=$d"
`
  const file = join(ROOT, 'bench', 'results', '.raw.sh')
  writeFileSync(file, script)
  const list = [...blobs.keys()].join('\n')
  const started = process.hrtime.bigint()
  await new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', `xargs -P ${parallel} -n 1 sh ${file}`], {
      stdio: ['pipe', 'ignore', 'pipe']
    })
    let err = ''
    child.stderr.on('data', (d) => (err += d))
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`raw copy failed: ${err}`))))
    child.stdin.end(list)
  })
  return { wallMs: Number(process.hrtime.bigint() - started) / 1e6 }
}

async function main() {
  for (const tool of ['skopeo', 'curl', '/usr/bin/time']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' })
    } catch {
      throw new Error(`${tool} is missing: run bash scripts/ensure-deps.sh --bench`)
    }
  }
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true })
  const skopeoVersion = execFileSync('skopeo', ['--version'], { encoding: 'utf8' }).trim()
  const results = []
  const parallel = Number(concurrency ?? 16)
  for (const scenario of SCENARIOS) {
    if (scenario.set) {
      const summary = await runSetScenario(scenario)
      results.push(summary)
      process.stdout.write(`${line(summary)}\n`)
      continue
    }
    const src = await startRegistry({ name: 'bench-src', accessLog: true })
    const dst = await startRegistry({ name: 'bench-dst', accessLog: true })
    const forwarders = []
    try {
      const spec = scenario.image
      const size = Math.max(1024, Math.round(spec.size * scale))
      const platforms = ['linux/amd64', 'linux/arm64'].slice(0, spec.platforms)
      const image = await seedImage(src, 'bench', 'v1', {
        platforms,
        layers: Array(spec.layers).fill(size),
        sharedLayers: Array(spec.shared ?? 0).fill(size),
        index: spec.platforms > 1
      })
      if (scenario.signed) scenario.publicKeyPem = await signImage(src, image)
      let srcHost = src.host
      let dstHost = dst.host
      if (scenario.delayMs) {
        const a = await startDelayForwarder(src.host, scenario.delayMs)
        const b = await startDelayForwarder(dst.host, scenario.delayMs)
        forwarders.push(a, b)
        srcHost = a.host
        dstHost = b.host
      }
      let cutter
      if (scenario.interrupt) {
        cutter = await startFaultProxy(src.url)
        forwarders.push(cutter)
        srcHost = cutter.host
      }
      const largest = [...image.blobs.entries()].sort((a, b) => b[1] - a[1])[0]
      const samples = { ours: [], skopeo: [], raw: [] }
      for (let round = 0; round < rounds; round++) {
        for (const tool of ['ours', 'skopeo']) {
          const repo = `${tool}/r${round}`
          if (scenario.repromote) {
            // Put the image and tag in place first, then time a run that must change nothing.
            await runOurs(srcHost, dstHost, repo, {})
          }
          if (cutter) {
            // Each tool meets the same fault: the largest blob's first download is cut halfway.
            cutter.rules.length = 0
            cutter.rules.push({
              method: 'GET',
              path: new RegExp(`/blobs/${largest[0]}$`),
              times: 1,
              fault: { resetResponseAfter: Math.floor(largest[1] / 2) }
            })
          }
          const before = src.requestCount() + dst.requestCount()
          let sample
          try {
            sample =
              tool === 'ours'
                ? await runOurs(srcHost, dstHost, repo, scenario)
                : await runSkopeo(srcHost, dstHost, repo, scenario)
          } catch (error) {
            // A tool that cannot get through the interruption is a result, not a broken benchmark.
            if (!scenario.interrupt || tool === 'ours') throw error
            sample = { failed: String(error.message).split('\n')[0].slice(0, 300) }
          }
          await new Promise((r) => setTimeout(r, 100)) // let the access logs flush
          sample.requests = src.requestCount() + dst.requestCount() - before
          if (tool === 'ours' && sample.digest !== image.digest)
            throw new Error(`digest mismatch in scenario ${scenario.id}`)
          if (tool === 'ours' && scenario.signed && !(await hasSignature(dst, repo, image.digest)))
            throw new Error(`scenario ${scenario.id}: the signature did not arrive`)
          samples[tool].push(sample)
        }
        if (scenario.raw)
          samples.raw.push(await runRaw(src.host, dst.host, `raw/r${round}`, image.blobs, parallel))
      }
      const summary = {
        id: scenario.id,
        name: scenario.name,
        blobs: image.blobs.size,
        imageBytes: [...image.blobs.values()].reduce((a, b) => a + b, 0),
        oursMs: median(samples.ours.map((s) => s.wallMs)),
        skopeoMs: median(samples.skopeo.map((s) => s.wallMs)),
        skopeoFailed: samples.skopeo.filter((s) => s.failed).length,
        rawMs: median(samples.raw.map((s) => s.wallMs)),
        oursCpuS: median(samples.ours.map((s) => s.cpuSeconds)),
        oursRssMiB: Math.max(...samples.ours.map((s) => s.rssMiB)),
        skopeoRssMiB: median(samples.skopeo.map((s) => s.rssMiB)),
        oursBytes: median(samples.ours.map((s) => s.bytes)),
        oursRequests: median(samples.ours.map((s) => s.requests)),
        oursResumes: samples.ours.reduce((n, s) => n + (s.resumes ?? 0), 0),
        skopeoRequests: median(samples.skopeo.map((s) => s.requests)),
        samples
      }
      summary.ratio = summary.skopeoMs ? summary.oursMs / summary.skopeoMs : undefined
      if (summary.rawMs) summary.ratioRaw = summary.oursMs / summary.rawMs
      results.push(summary)
      process.stdout.write(`${line(summary)}\n`)
    } finally {
      for (const f of forwarders) await f.stop()
      await Promise.all([src.stop(), dst.stop()])
    }
  }
  for (const r of results.filter((x) => x.separateMs !== undefined)) {
    process.stdout.write(
      `release set (scenario ${r.id}): one step ${ms(r.oursMs)}, 12 separate runs ${ms(r.separateMs)} ` +
        `(set / runs ${r.setOverRuns.toFixed(2)}), 12 skopeo copies ${ms(r.skopeoMs)} (set / skopeo ${r.ratio.toFixed(2)})\n`
    )
  }
  const gated = results.find((r) => r.id === 11)
  const ungated = results.find((r) => r.id === 9)
  if (gated && ungated) {
    gated.gatedOverSigned = gated.oursMs / ungated.oursMs
    process.stdout.write(`gated / not gated (scenario 11 / 9, ours): ${gated.gatedOverSigned.toFixed(2)}\n`)
  }
  const unsigned = results.find((r) => r.id === 3)
  const signed = results.find((r) => r.id === 9)
  if (unsigned && signed) {
    signed.signedOverUnsigned = signed.oursMs / unsigned.oursMs
    process.stdout.write(
      `signed / unsigned (scenario 9 / 3, ours): ${signed.signedOverUnsigned.toFixed(2)}\n`
    )
  }
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim()}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${skopeoVersion}`
  const md = table(results, machine)
  // Only a full run replaces the published results; quick and partial runs write beside them.
  const name = quick ? 'quick' : only || concurrency ? 'partial' : 'latest'
  writeFileSync(join(ROOT, 'bench', 'results', `${name}.md`), md)
  writeFileSync(
    join(ROOT, 'bench', 'results', `${name}.json`),
    JSON.stringify({ machine, quick, rounds, results }, null, 2)
  )
  for (const f of ['.time', '.raw.sh']) rmSync(join(ROOT, 'bench', 'results', f), { force: true })
  process.stdout.write(`\n${md}`)
}

const ms = (v) => (v === undefined ? '—' : v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(2)} s`)
const mib = (v) => (v === undefined ? '—' : `${(v / MiB).toFixed(1)} MiB`)

function skopeoCell(r) {
  if (!r.skopeoFailed) return ms(r.skopeoMs)
  const runs = r.samples.skopeo.length
  return r.skopeoFailed === runs
    ? `failed (${runs} of ${runs})`
    : `${ms(r.skopeoMs)}, failed ${r.skopeoFailed} of ${runs}`
}

const ratio = (r) => (r.ratio === undefined ? '—' : r.ratio.toFixed(2))

function line(r) {
  return (
    `scenario ${r.id} (${r.name}): ours ${ms(r.oursMs)}, skopeo ${skopeoCell(r)}, ratio ${ratio(r)}` +
    (r.rawMs ? `, raw ${ms(r.rawMs)} (ours/raw ${r.ratioRaw.toFixed(2)})` : '') +
    (r.oursResumes ? `, ${r.oursResumes} download(s) resumed` : '') +
    `, our CPU ${r.oursCpuS.toFixed(2)} s, our peak RSS ${r.oursRssMiB.toFixed(0)} MiB, moved ${mib(r.oursBytes)}, requests ${r.oursRequests} vs ${r.skopeoRequests}`
  )
}

function table(results, machine) {
  const rows = results.map(
    (r) =>
      `| ${r.id}. ${r.name} | ${ms(r.oursMs)} | ${skopeoCell(r)} | ${ratio(r)} | ${r.rawMs ? `${ms(r.rawMs)} (${r.ratioRaw.toFixed(2)})` : '—'} | ${r.oursCpuS.toFixed(2)} s | ${r.oursRssMiB.toFixed(0)} MiB | ${r.skopeoRssMiB === undefined ? '—' : `${r.skopeoRssMiB.toFixed(0)} MiB`} | ${mib(r.oursBytes)} | ${r.oursRequests} / ${r.skopeoRequests} |`
  )
  return [
    `Machine: ${machine}. ${rounds} round(s)${quick ? ', quick sizes (1/16)' : ''}, medians.`,
    '',
    '| scenario | ecr-promote | skopeo | ours / skopeo | raw curl (ours / raw) | our CPU | our peak RSS | skopeo peak RSS | bytes moved | requests (ours / skopeo) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    ...results
      .filter((r) => r.separateMs !== undefined)
      .map(
        (r) =>
          `Release set (scenario ${r.id}): one step ${ms(r.oursMs)}; the same 12 images by 12 separate runs of the action ${ms(r.separateMs)} (set / runs ${r.setOverRuns.toFixed(2)}); by 12 skopeo copies ${ms(r.skopeoMs)} (set / skopeo ${r.ratio.toFixed(2)}).\n`
      ),
    ...results
      .filter((r) => r.signedOverUnsigned !== undefined)
      .map(
        (r) =>
          `Signed over unsigned (scenario 9 / scenario 3, ours, same run): ${r.signedOverUnsigned.toFixed(2)}.\n`
      ),
    ...results
      .filter((r) => r.gatedOverSigned !== undefined)
      .map(
        (r) =>
          `Gated over not gated (scenario 11 / scenario 9, ours, same run): ${r.gatedOverSigned.toFixed(2)}.\n`
      )
  ].join('\n')
}

/**
 * Scenario 10: a release of 12 images promoted as one step (the images input), by 12 separate runs of
 * the action one after another, and by 12 skopeo copies, all through 25 ms each way.
 */
async function runSetScenario(scenario) {
  const src = await startRegistry({ name: 'bench-src', accessLog: true })
  const dst = await startRegistry({ name: 'bench-dst', accessLog: true })
  const forwarders = []
  try {
    const spec = scenario.set
    const size = Math.max(1024, Math.round(spec.size * scale))
    const names = Array.from({ length: spec.images }, (_, i) => `set/img${i + 1}`)
    const seeded = []
    for (const name of names) {
      seeded.push(
        await seedImage(src, name, 'v1', {
          platforms: ['linux/amd64'],
          layers: Array(spec.layers).fill(size),
          // The same seed for the base layer: one blob every image shares.
          sharedLayers: [Math.max(1024, Math.round(spec.shared * scale))],
          seed: name,
          index: false,
          sharedSeed: 'base'
        })
      )
    }
    const a = await startDelayForwarder(src.host, scenario.delayMs)
    const b = await startDelayForwarder(dst.host, scenario.delayMs)
    forwarders.push(a, b)
    const samples = { ours: [], separate: [], skopeo: [] }
    for (let round = 0; round < rounds; round++) {
      const before = src.requestCount() + dst.requestCount()
      let started = process.hrtime.bigint()
      const images = names.map((n) => `${a.host}/${n}:v1 ${b.host}/ours/r${round}/${n}`).join('\n')
      const run = await runAction({ images, concurrency }, { measure: true })
      if (run.code !== 0) throw new Error(`release set failed: ${run.stdout.slice(-1500)}`)
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6
      await new Promise((r) => setTimeout(r, 100))
      samples.ours.push({
        wallMs,
        cpuSeconds: run.usage.cpuSeconds,
        rssMiB: run.usage.maxRssKiB / 1024,
        bytes: 0,
        requests: src.requestCount() + dst.requestCount() - before
      })
      started = process.hrtime.bigint()
      for (const n of names) {
        const one = await runAction({
          source: `${a.host}/${n}:v1`,
          destination: `${b.host}/separate/r${round}/${n}`,
          concurrency
        })
        if (one.code !== 0) throw new Error(`separate run failed: ${one.stdout.slice(-1500)}`)
      }
      samples.separate.push({ wallMs: Number(process.hrtime.bigint() - started) / 1e6 })
      const skopeoBefore = src.requestCount() + dst.requestCount()
      started = process.hrtime.bigint()
      let rss = 0
      for (const n of names) {
        for (const cache of SKOPEO_CACHES) rmSync(cache, { force: true })
        const t = await timed('skopeo', [
          'copy',
          '--all',
          '--preserve-digests',
          '--quiet',
          '--src-tls-verify=false',
          '--dest-tls-verify=false',
          `docker://${a.host}/${n}:v1`,
          `docker://${b.host}/skopeo/r${round}/${n}:v1`
        ])
        rss = Math.max(rss, t.rssMiB)
      }
      await new Promise((r) => setTimeout(r, 100))
      samples.skopeo.push({
        wallMs: Number(process.hrtime.bigint() - started) / 1e6,
        rssMiB: rss,
        requests: src.requestCount() + dst.requestCount() - skopeoBefore
      })
      for (const [i, n] of names.entries()) {
        if ((await headDigest(dst, `ours/r${round}/${n}`, 'v1')) !== seeded[i].digest)
          throw new Error(`scenario ${scenario.id}: ${n} did not arrive`)
      }
    }
    const blobs = new Map(seeded.flatMap((s) => [...s.blobs.entries()]))
    const summary = {
      id: scenario.id,
      name: scenario.name,
      blobs: blobs.size,
      imageBytes: [...blobs.values()].reduce((x, y) => x + y, 0),
      oursMs: median(samples.ours.map((s) => s.wallMs)),
      separateMs: median(samples.separate.map((s) => s.wallMs)),
      skopeoMs: median(samples.skopeo.map((s) => s.wallMs)),
      skopeoFailed: 0,
      oursCpuS: median(samples.ours.map((s) => s.cpuSeconds)),
      oursRssMiB: Math.max(...samples.ours.map((s) => s.rssMiB)),
      skopeoRssMiB: median(samples.skopeo.map((s) => s.rssMiB)),
      // Each destination repository gets its image once, the shared base layer included.
      oursBytes: seeded.reduce((sum, s) => sum + [...s.blobs.values()].reduce((x, y) => x + y, 0), 0),
      oursRequests: median(samples.ours.map((s) => s.requests)),
      oursResumes: 0,
      skopeoRequests: median(samples.skopeo.map((s) => s.requests)),
      samples
    }
    summary.ratio = summary.oursMs / summary.skopeoMs
    summary.setOverRuns = summary.oursMs / summary.separateMs
    return summary
  } finally {
    for (const f of forwarders) await f.stop()
    await Promise.all([src.stop(), dst.stop()])
  }
}

/** Scenario 9's trust chain, made as cosign (tags) and cosign v3 / Notation (referrers) make it. */
async function signImage(registry, image) {
  const key = generateKeyPair()
  const root = { digest: image.digest, mediaType: image.mediaType, size: image.bytes.length }
  await signCosign(registry, 'bench', root, key)
  await attestCosign(registry, 'bench', root, key)
  await bundleReferrer(registry, 'bench', root, key)
  await notationReferrer(registry, 'bench', root)
  for (const m of image.manifests) {
    await sbomReferrer(registry, 'bench', { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length })
  }
  return key.publicKeyPem
}

async function hasSignature(registry, repo, digest) {
  return (await headDigest(registry, repo, digestTag(digest, 'sig'))) !== undefined
}

if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/index.js is missing: npm run build')
await main()
