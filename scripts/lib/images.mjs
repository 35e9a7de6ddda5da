// Synthetic images for tests, the demo and the benchmark, pushed with plain HTTP calls that share
// no code with the action (so a bug in the action cannot hide in its own fixtures).
import { createHash } from 'node:crypto'
import { Agent, request } from 'undici'

// No keep-alive: fixtures must not hold sockets open after a test file ends.
const dispatcher = new Agent({ pipelining: 0 })

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json'
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip'
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json'
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json'
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json'
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip'

export const ACCEPT = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(', ')

const CHUNK = 1024 * 1024
const pattern = Buffer.alloc(CHUNK)
for (let i = 0; i < CHUNK; i += 4) pattern.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ (i << 7)) >>> 0, i)

/** A deterministic blob of `size` bytes named by `seed`, produced in 1 MiB chunks (never all in memory). */
export function syntheticBlob(seed, size) {
  const chunk = (k) => {
    const length = Math.min(CHUNK, size - k * CHUNK)
    const out = Buffer.from(pattern.subarray(0, length))
    const tag = Buffer.from(`${seed}#${k};`)
    tag.copy(out, 0, 0, Math.min(tag.length, length))
    return out
  }
  const chunks = Math.ceil(size / CHUNK)
  const hash = createHash('sha256')
  for (let k = 0; k < chunks; k++) hash.update(chunk(k))
  return {
    size,
    digest: `sha256:${hash.digest('hex')}`,
    async *stream() {
      for (let k = 0; k < chunks; k++) yield chunk(k)
    }
  }
}

function bytesBlob(buffer) {
  return {
    size: buffer.length,
    digest: `sha256:${createHash('sha256').update(buffer).digest('hex')}`,
    bytes: buffer,
    async *stream() {
      yield buffer
    }
  }
}

async function call(registry, method, path, { headers = {}, body, repository } = {}) {
  const authorization = await registry.authHeader(repository)
  const url = path.startsWith('http') ? path : `${registry.url}${path}`
  const res = await request(url, {
    method,
    headers: { ...headers, ...(authorization ? { authorization } : {}) },
    body,
    dispatcher: registry.dispatcher ?? dispatcher
  })
  return res
}

export async function pushBlob(registry, repository, blob) {
  const head = await call(registry, 'HEAD', `/v2/${repository}/blobs/${blob.digest}`, { repository })
  await head.body.dump()
  if (head.statusCode === 200) return
  const start = await call(registry, 'POST', `/v2/${repository}/blobs/uploads/`, { repository })
  await start.body.dump()
  if (start.statusCode !== 202) throw new Error(`seed: POST upload answered ${start.statusCode}`)
  const location = new URL(start.headers.location, registry.url)
  location.searchParams.set('digest', blob.digest)
  const put = await call(registry, 'PUT', location.toString(), {
    repository,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
    body: blob.stream()
  })
  const text = await put.body.text()
  if (put.statusCode !== 201) throw new Error(`seed: PUT blob answered ${put.statusCode}: ${text}`)
}

export async function pushManifest(registry, repository, reference, manifest) {
  const res = await call(registry, 'PUT', `/v2/${repository}/manifests/${reference}`, {
    repository,
    headers: { 'content-type': manifest.mediaType },
    body: manifest.bytes
  })
  const text = await res.body.text()
  if (res.statusCode !== 201) throw new Error(`seed: PUT manifest answered ${res.statusCode}: ${text}`)
}

/**
 * Builds and pushes an image. `platforms`: e.g. ['linux/amd64', 'linux/arm64']; one platform and
 * `index: false` pushes a single manifest. `layers`: sizes of each platform's own layers;
 * `sharedLayers`: sizes of layers every platform shares. `format`: 'oci' | 'docker'.
 * Returns { digest, mediaType, bytes, blobs: Map<digest, size>, manifests: [...] }.
 */
export async function seedImage(registry, repository, tag, options = {}) {
  const {
    platforms = ['linux/amd64'],
    layers = [1024],
    sharedLayers = [],
    format = 'oci',
    index = platforms.length > 1,
    seed = `${repository}:${tag}`,
    // Images seeded with one sharedSeed share their shared layers (one blob, as a common base image).
    sharedSeed = seed
  } = options
  const types =
    format === 'oci'
      ? { index: OCI_INDEX, manifest: OCI_MANIFEST, config: OCI_CONFIG, layer: OCI_LAYER }
      : { index: DOCKER_LIST, manifest: DOCKER_MANIFEST, config: DOCKER_CONFIG, layer: DOCKER_LAYER }
  const blobs = new Map()
  const shared = sharedLayers.map((size, i) => syntheticBlob(`${sharedSeed}/shared/${i}`, size))
  const manifests = []
  for (const platform of platforms) {
    const [os, architecture, variant] = platform.split('/')
    const own = layers.map((size, i) => syntheticBlob(`${seed}/${platform}/${i}`, size))
    const all = [...shared, ...own]
    const config = bytesBlob(
      Buffer.from(
        JSON.stringify({
          architecture,
          os,
          ...(variant ? { variant } : {}),
          config: { Labels: { seed } },
          rootfs: { type: 'layers', diff_ids: all.map((b) => b.digest) }
        })
      )
    )
    for (const blob of [config, ...all]) {
      await pushBlob(registry, repository, blob)
      blobs.set(blob.digest, blob.size)
    }
    const manifest = manifestOf({
      schemaVersion: 2,
      mediaType: types.manifest,
      config: { mediaType: types.config, digest: config.digest, size: config.size },
      layers: all.map((b) => ({ mediaType: types.layer, digest: b.digest, size: b.size }))
    })
    manifests.push({ ...manifest, platform: { os, architecture, ...(variant ? { variant } : {}) } })
  }
  if (!index) {
    await pushManifest(registry, repository, tag, manifests[0])
    return { ...manifests[0], blobs, manifests }
  }
  for (const m of manifests) await pushManifest(registry, repository, m.digest, m)
  const root = manifestOf({
    schemaVersion: 2,
    mediaType: types.index,
    manifests: manifests.map((m) => ({
      mediaType: m.mediaType,
      digest: m.digest,
      size: m.bytes.length,
      platform: m.platform
    }))
  })
  await pushManifest(registry, repository, tag, root)
  return { ...root, blobs, manifests }
}

function manifestOf(document) {
  const bytes = Buffer.from(JSON.stringify(document, null, 2))
  return {
    mediaType: document.mediaType,
    bytes,
    digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`
  }
}

/** HEAD a manifest: its digest, or undefined when absent. */
export async function headDigest(registry, repository, reference) {
  const res = await call(registry, 'HEAD', `/v2/${repository}/manifests/${reference}`, {
    repository,
    headers: { accept: ACCEPT }
  })
  await res.body.dump()
  if (res.statusCode === 404) return undefined
  if (res.statusCode !== 200) throw new Error(`HEAD manifest answered ${res.statusCode}`)
  return res.headers['docker-content-digest']
}

/** GET a manifest's bytes and media type. */
export async function getManifestBytes(registry, repository, reference) {
  const res = await call(registry, 'GET', `/v2/${repository}/manifests/${reference}`, {
    repository,
    headers: { accept: ACCEPT }
  })
  const bytes = Buffer.from(await res.body.arrayBuffer())
  if (res.statusCode !== 200) throw new Error(`GET manifest answered ${res.statusCode}`)
  return {
    bytes,
    mediaType: res.headers['content-type'],
    digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`
  }
}

export async function blobPresent(registry, repository, digest) {
  const res = await call(registry, 'HEAD', `/v2/${repository}/blobs/${digest}`, { repository })
  await res.body.dump()
  return res.statusCode === 200
}
