// The demo of the main job: two local registries, a multi-platform image seeded into one, and the
// committed bundle run exactly as the runner would to promote it to the other.
import { startRegistry } from './lib/registries.mjs'
import { seedImage } from './lib/images.mjs'
import { runAction } from './lib/action.mjs'

const source = await startRegistry({ auth: 'none', name: 'source' })
const destination = await startRegistry({ auth: 'token', name: 'destination' })
try {
  console.log(`source registry      ${source.url} (no auth, stands in for ECR)`)
  console.log(
    `destination registry ${destination.url} (token auth like Docker Hub, token server ${destination.tokenServer.url})`
  )
  const image = await seedImage(source, 'app', '1.4.2', {
    platforms: ['linux/amd64', 'linux/arm64'],
    sharedLayers: [4 * 1024 * 1024],
    layers: [2 * 1024 * 1024, 512 * 1024],
    format: 'oci'
  })
  console.log(`seeded ${source.host}/app:1.4.2 = ${image.digest} (2 platforms, ${image.blobs.size} blobs)\n`)

  const inputs = {
    source: `${source.host}/app:1.4.2`,
    destination: `${destination.host}/acme/app`,
    'floating-tags': 'latest',
    'destination-username': 'promoter',
    'destination-password': 'hunter2-Promoter-Pa55'
  }
  for (const round of ['first run', 'second run (must be a no-op)']) {
    console.log(`--- node dist/index.js, ${round} ---`)
    const run = await runAction(inputs)
    process.stdout.write(run.stdout)
    process.stderr.write(run.stderr)
    console.log(`exit code ${run.code}; outputs:`)
    for (const [name, value] of Object.entries(run.outputs)) console.log(`  ${name.padEnd(9)} ${value}`)
    if (run.code !== 0) process.exitCode = 1
    if (run.outputs.digest !== image.digest) {
      console.error(`digest mismatch: source ${image.digest}, promoted ${run.outputs.digest}`)
      process.exitCode = 1
    }
    console.log('')
  }
} finally {
  await source.stop()
  await destination.stop()
}
