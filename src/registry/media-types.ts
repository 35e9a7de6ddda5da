// Manifest media types we read, walk and push unchanged.

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json'
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json'
export const DOCKER_SCHEMA1 = 'application/vnd.docker.distribution.manifest.v1+json'
export const DOCKER_SCHEMA1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws'

export const INDEX_TYPES = new Set([OCI_INDEX, DOCKER_LIST])
export const MANIFEST_TYPES = new Set([OCI_MANIFEST, DOCKER_MANIFEST])

/** Every manifest type we can copy, preferred first. */
export const MANIFEST_ACCEPT = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(', ')

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  platform?: Platform
  annotations?: Record<string, string>
  /** Where a foreign (non-distributable) layer is served instead of the registry. */
  urls?: string[]
  artifactType?: string
}

export interface Platform {
  os: string
  architecture: string
  variant?: string
}

export interface IndexDocument {
  mediaType?: string
  manifests: Descriptor[]
}

export interface ManifestDocument {
  mediaType?: string
  config: Descriptor
  layers: Descriptor[]
  subject?: Descriptor
}

export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/')
}
