// The platforms of an image, for the `platforms` output and the summary's table. Read for the
// report only: nothing here may fail a promotion.
import {
  formatPlatform,
  getManifest,
  isWalkable,
  parseDocument,
  readBlobBytes,
  type Descriptor,
  type Logger,
  type Manifest,
  type Platform,
  type RegistryClient
} from '../registry/index.js'

export interface PlatformEntry {
  platform: string
  /** The platform's own manifest. */
  digest: string
  /** Its content size (config and layers), when known. */
  size?: number
}

const MAX_DEPTH = 4
const MAX_CONFIG_BYTES = 1024 * 1024

/**
 * Platforms from the index (following nested indexes), or from the config of a single-platform
 * image. Entries without a platform (attestations, `unknown/unknown`) are left out.
 */
export async function listPlatforms(
  client: RegistryClient,
  repository: string,
  root: Manifest,
  log: Logger
): Promise<PlatformEntry[]> {
  try {
    const entries = await collect(client, repository, root, 0)
    const seen = new Set<string>()
    return entries.filter(
      (e) => !seen.has(`${e.platform} ${e.digest}`) && seen.add(`${e.platform} ${e.digest}`)
    )
  } catch (error) {
    log.warning(`could not read the image's platforms for the report: ${(error as Error).message}`)
    return []
  }
}

async function collect(
  client: RegistryClient,
  repository: string,
  manifest: Manifest,
  depth: number
): Promise<PlatformEntry[]> {
  const document = parseDocument(manifest)
  if (!('manifests' in document)) {
    const platform = await configPlatform(client, repository, document.config)
    return platform ? [{ platform, digest: manifest.digest }] : []
  }
  const entries: PlatformEntry[][] = await Promise.all(
    document.manifests.map(async (child) => {
      if (isIndex(child) && depth < MAX_DEPTH) {
        const nested = await getManifest(client, repository, child.digest, undefined, child.mediaType)
        return nested ? collect(client, repository, nested, depth + 1) : []
      }
      const p = child.platform
      if (!p || p.os === 'unknown' || p.architecture === 'unknown' || !isWalkable(child.mediaType)) return []
      return [{ platform: formatPlatform(p), digest: child.digest }]
    })
  )
  return entries.flat()
}

function isIndex(descriptor: Descriptor): boolean {
  return /image\.index|manifest\.list/.test(descriptor.mediaType ?? '')
}

async function configPlatform(
  client: RegistryClient,
  repository: string,
  config: Descriptor
): Promise<string | undefined> {
  if (config.size > MAX_CONFIG_BYTES) return undefined
  const bytes = await readBlobBytes(client, repository, config, `config ${config.digest}`)
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as Partial<Platform>
    return parsed.os && parsed.architecture ? formatPlatform(parsed as Platform) : undefined
  } catch {
    // An artifact's config need not be an image config: it has no platform.
    return undefined
  }
}
