// The small blobs a signature gate reads (simple-signing payloads, bundles): each read whole, at most
// 1 MiB, and checked against its descriptor before it is trusted.
import {
  parseDocument,
  readBlobBytes,
  type Descriptor,
  type Manifest,
  type RegistryClient
} from '../registry/index.js'

/** Signature payloads and bundles are small; a larger blob is not read. */
const MAX_SIGNATURE_BLOB = 1024 * 1024

/** A manifest's layers; none when it is not a valid image manifest. */
export function layersOf(manifest: Manifest): Descriptor[] {
  try {
    const document = parseDocument(manifest)
    return 'layers' in document ? document.layers.filter((l) => typeof l.mediaType === 'string') : []
  } catch {
    return []
  }
}

/** A small blob of a layer layersOf gave (its digest checked), read whole against its descriptor. */
export async function readSmallBlob(
  client: RegistryClient,
  repository: string,
  layer: Descriptor
): Promise<Buffer> {
  if (!(layer.size <= MAX_SIGNATURE_BLOB)) throw new Error(`blob ${layer.digest} is larger than 1 MiB`)
  return readBlobBytes(client, repository, layer)
}
