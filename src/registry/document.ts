// Reading manifests as documents: enough structure to walk an image, checked so that a malformed
// descriptor fails with its own words instead of a crash deep in the copy.
import { RegistryError } from './errors.js'
import type { Manifest } from './fetch.js'
import {
  INDEX_TYPES,
  MANIFEST_TYPES,
  type Descriptor,
  type IndexDocument,
  type ManifestDocument
} from './media-types.js'
import { isValidDigest } from './reference.js'

/** Whether a manifest of this media type is one we know how to walk (empty: decide by content). */
export function isWalkable(mediaType: string | undefined): boolean {
  return !mediaType || INDEX_TYPES.has(mediaType) || MANIFEST_TYPES.has(mediaType)
}

/** Parses a manifest enough to walk it; anything else is not an image we can copy. */
export function parseDocument(manifest: Manifest): IndexDocument | ManifestDocument {
  let parsed: unknown
  try {
    parsed = JSON.parse(manifest.bytes.toString('utf8'))
  } catch (error) {
    throw new RegistryError(`manifest ${manifest.digest} is not valid JSON`, {
      retryable: false,
      cause: error
    })
  }
  const doc = parsed as Partial<IndexDocument & ManifestDocument>
  if (INDEX_TYPES.has(manifest.mediaType) || (Array.isArray(doc.manifests) && !doc.config)) {
    if (!Array.isArray(doc.manifests)) {
      throw new RegistryError(`index ${manifest.digest} has no manifests list`, { retryable: false })
    }
    return { mediaType: manifest.mediaType, manifests: doc.manifests.map(checkDescriptor) }
  }
  if (MANIFEST_TYPES.has(manifest.mediaType) || doc.config) {
    if (!doc.config)
      throw new RegistryError(`manifest ${manifest.digest} has no config`, { retryable: false })
    return {
      mediaType: manifest.mediaType,
      config: checkDescriptor(doc.config),
      layers: (doc.layers ?? []).map(checkDescriptor)
    }
  }
  throw new RegistryError(`manifest ${manifest.digest} has unsupported media type "${manifest.mediaType}"`, {
    retryable: false
  })
}

function checkDescriptor(descriptor: Descriptor): Descriptor {
  if (
    typeof descriptor?.digest !== 'string' ||
    !isValidDigest(descriptor.digest) ||
    !Number.isSafeInteger(descriptor.size) ||
    descriptor.size < 0
  ) {
    throw new RegistryError(`invalid descriptor ${JSON.stringify(descriptor).slice(0, 200)}`, {
      retryable: false
    })
  }
  return descriptor
}
