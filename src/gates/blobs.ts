// The small blobs a signature gate reads (simple-signing payloads, bundles): each read whole, at most
// 1 MiB, and checked against its descriptor before it is trusted.
import { digestOf, getBlob, type Manifest, type RegistryClient } from '../registry/index.js'

/** Signature payloads and bundles are small; a larger blob is not read. */
const MAX_SIGNATURE_BLOB = 1024 * 1024

export interface Layer {
  mediaType: string
  digest: string
  size: number
  annotations?: Record<string, string>
}

export function layersOf(manifest: Manifest): Layer[] {
  try {
    const parsed = JSON.parse(manifest.bytes.toString('utf8')) as { layers?: Layer[] }
    return (parsed.layers ?? []).filter(
      (l) => typeof l?.mediaType === 'string' && typeof l.digest === 'string'
    )
  } catch {
    return []
  }
}

/** A small blob, read whole and checked against its descriptor. */
export async function readSmallBlob(
  client: RegistryClient,
  repository: string,
  layer: Layer
): Promise<Buffer> {
  if (!/^sha256:[a-f0-9]{64}$/.test(layer.digest)) throw new Error('a layer has no valid sha256 digest')
  if (!(layer.size <= MAX_SIGNATURE_BLOB)) throw new Error(`blob ${layer.digest} is larger than 1 MiB`)
  const response = await getBlob(client, repository, layer.digest)
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of response.body) {
    length += chunk.length
    if (length > layer.size) throw new Error(`blob ${layer.digest} is longer than its descriptor says`)
    chunks.push(chunk as Buffer)
  }
  const bytes = Buffer.concat(chunks)
  if (bytes.length !== layer.size || digestOf(bytes, 'sha256') !== layer.digest) {
    throw new Error(`blob ${layer.digest} does not match its digest`)
  }
  return bytes
}
