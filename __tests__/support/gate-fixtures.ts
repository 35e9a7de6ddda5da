// What the gate tests (signature-gate, scan-gate, release-set-gates) share: the ECR environment with
// a destination and ambient keys, the seeded images, the key fingerprint the action prints, an
// image index with a buildx attestation, and a promotion through dist/index.js with the checks that
// it went through or was stopped before any write.
import { expect } from '@jest/globals'
import { createHash, createPublicKey, type KeyObject } from 'node:crypto'
import { errorsOf, runAction } from '../../scripts/lib/action.mjs'
import { USERS } from '../../scripts/lib/registries.mjs'
import { headDigest, pushBlob, pushManifest, seedImage } from '../../scripts/lib/images.mjs'
import { ECR_HOST } from '../../scripts/lib/fake-aws.mjs'
import { sha256 } from '../../scripts/lib/trust-fixtures.mjs'
import { ecrInputs, expectUntouched, startEcrEnv, type EcrEnv, type Registry } from './ecr-env.js'

export type Image = Awaited<ReturnType<typeof seedImage>>
export interface MultiImage {
  digest: string
  platforms: { digest: string; platform: { os: string; architecture: string } }[]
  attestation: string
}

/** AWS keys the "runner" already has (for the command line, which has no OIDC). */
export const ambientKeys = {
  accessKeyId: 'AKIAGATESAMBIENT0001',
  secretAccessKey: 'gates-ambient-secret-DO-NOT-PRINT'
}

export const destLogin = {
  'destination-username': 'promoter',
  'destination-password': USERS.promoter.password
}

/** The ECR registry, the fake AWS knowing `ambientKeys`, and a destination registry (see startEcrEnv). */
export function startGateEnv(name: string, options: { slowLinkMs?: number } = {}): Promise<EcrEnv> {
  return startEcrEnv({ name, destination: true, ambientKeys, ...options })
}

/**
 * Seeds ${ECR_HOST}/app:<tag> for each tag, in order: one platform (linux/amd64, a 1 KiB layer), or
 * for the tags in `multi` two platforms sharing a 2 KiB layer; OCI media types.
 */
export async function seedGateImages(
  ecr: Registry,
  tags: string[],
  multi: string[] = []
): Promise<Record<string, Image>> {
  const images: Record<string, Image> = {}
  for (const tag of tags) {
    const many = multi.includes(tag)
    images[tag] = await seedImage(ecr, 'app', tag, {
      platforms: many ? ['linux/amd64', 'linux/arm64'] : ['linux/amd64'],
      layers: [1024],
      sharedLayers: many ? [2048] : [],
      format: 'oci'
    })
  }
  return images
}

/** A descriptor of an image, as fixtures take a subject. */
export const subject = (image: Image) => ({
  digest: image.digest,
  mediaType: image.mediaType,
  size: image.bytes.length
})

/** How the action names a key: SHA256: and the unpadded base64 SHA-256 of its SubjectPublicKeyInfo. */
export function fingerprint(publicKey: KeyObject | string): string {
  const der = createPublicKey(publicKey).export({ type: 'spki', format: 'der' })
  return `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`
}

/**
 * An image index of two platforms and, as buildx writes one, an attestation manifest (platform
 * unknown/unknown) about the first: only the two platform manifests are images ECR scans.
 */
export async function seedWithAttestation(ecr: Registry, tag: string): Promise<MultiImage> {
  const base = await seedImage(ecr, 'app', `${tag}-base`, {
    platforms: ['linux/amd64', 'linux/arm64'],
    layers: [1536]
  })
  const blob = (bytes: Buffer) => ({
    size: bytes.length,
    digest: sha256(bytes),
    async *stream() {
      yield bytes
    }
  })
  const statement = blob(
    Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v0.1',
        predicateType: 'https://spdx.dev/Document',
        subject: [{ name: `${ECR_HOST}/app`, digest: { sha256: base.manifests[0].digest.slice(7) } }],
        predicate: { spdxVersion: 'SPDX-2.3' }
      })
    )
  )
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: 'unknown',
        os: 'unknown',
        config: {},
        rootfs: { type: 'layers', diff_ids: [statement.digest] }
      })
    )
  )
  for (const b of [statement, config]) await pushBlob(ecr, 'app', b)
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: config.digest,
        size: config.size
      },
      layers: [
        {
          mediaType: 'application/vnd.in-toto+json',
          digest: statement.digest,
          size: statement.size,
          annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' }
        }
      ]
    })
  )
  const attestation = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    bytes: manifestBytes,
    digest: sha256(manifestBytes)
  }
  await pushManifest(ecr, 'app', attestation.digest, attestation)
  const indexBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        ...base.manifests.map((m) => ({
          mediaType: m.mediaType,
          digest: m.digest,
          size: m.bytes.length,
          platform: m.platform
        })),
        {
          mediaType: attestation.mediaType,
          digest: attestation.digest,
          size: manifestBytes.length,
          platform: { architecture: 'unknown', os: 'unknown' },
          annotations: {
            'vnd.docker.reference.digest': base.manifests[0].digest,
            'vnd.docker.reference.type': 'attestation-manifest'
          }
        }
      ]
    })
  )
  const index = { mediaType: 'application/vnd.oci.image.index.v1+json', bytes: indexBytes }
  await pushManifest(ecr, 'app', tag, index)
  return {
    digest: sha256(indexBytes),
    platforms: base.manifests.map((m) => ({
      digest: m.digest,
      platform: m.platform as { os: string; architecture: string }
    })),
    attestation: attestation.digest
  }
}

/**
 * A single promotion of ${ECR_HOST}/app:<tag> to <dest>/gates/<tag> with the gate inputs given, and
 * the two outcomes a gate test checks. `env` is read when called (it is set in beforeAll).
 */
export function gateSteps(env: () => EcrEnv) {
  async function promote(tag: string, gates: Record<string, string> = {}) {
    const { dest, destLog } = env()
    const repository = `gates/${tag}`
    const mark = destLog!.mark()
    const run = await runAction(
      ecrInputs({
        source: `${ECR_HOST}/app:${tag}`,
        destination: `${dest!.host}/${repository}`,
        ...destLogin,
        ...gates
      }),
      { env: env().env() }
    )
    return { run, repository, mark, tag }
  }

  type Promotion = Awaited<ReturnType<typeof promote>>

  /** The gate failed with all of `phrases` and "nothing was written", and nothing was: no write, no tag, no digest. */
  async function expectStopped(p: Promotion, digest: string, phrases: (string | RegExp)[]) {
    const errors = errorsOf(p.run).join('\n')
    for (const phrase of [...phrases, 'nothing was written']) {
      if (typeof phrase === 'string') expect(errors).toContain(phrase)
      else expect(errors).toMatch(phrase)
    }
    expect(p.run.code).toBe(1)
    expect(p.run.stdout).not.toMatch(/ copied in /)
    await expectUntouched(env().dest!, env().destLog!, p.mark, p.repository, {
      [p.tag]: undefined,
      [digest]: undefined
    })
  }

  /** The promotion went through: the tag is at the digest. */
  async function expectPromoted(p: Promotion, digest: string) {
    expect(errorsOf(p.run)).toEqual([])
    expect(p.run.code).toBe(0)
    expect(p.run.outputs.digest).toBe(digest)
    expect(await headDigest(env().dest!, p.repository, p.tag)).toBe(digest)
  }

  return { promote, expectStopped, expectPromoted }
}
