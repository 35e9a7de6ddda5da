// The referrers index and cosign's digest tags: names, merging and unions, byte for byte.
import { describe, expect, test } from '@jest/globals'
import { createHash } from 'node:crypto'
import { fallbackTag, mergeIndex, unionDigestTag, nextPage } from '../../src/registry/index.js'

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`
const asManifest = (doc: unknown, mediaType = OCI_INDEX) => {
  const bytes = Buffer.from(JSON.stringify(doc))
  return { mediaType, bytes, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` }
}
const entry = (name: string, extra: Record<string, unknown> = {}) => ({
  mediaType: OCI_MANIFEST,
  digest: sha(name),
  size: name.length,
  artifactType: `application/x-${name}`,
  ...extra
})

describe('fallbackTag', () => {
  test.each([
    [`sha256:${'a'.repeat(64)}`, `sha256-${'a'.repeat(64)}`],
    [`sha512:${'b'.repeat(128)}`, `sha512-${'b'.repeat(64)}`]
  ])('%s is tagged %s', (digest, tag) => {
    expect(fallbackTag(digest)).toBe(tag)
  })
})

describe('mergeIndex', () => {
  const subject = sha('subject')

  test('starts an index when there is none', () => {
    const merged = mergeIndex(undefined, subject, [entry('sig')])
    expect(merged?.mediaType).toBe(OCI_INDEX)
    expect(JSON.parse(merged!.bytes.toString())).toEqual({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [entry('sig')]
    })
    expect(merged!.digest).toBe(sha(merged!.bytes.toString()))
  })

  test('keeps every entry already there (a foreign one included), its annotations and order', () => {
    const foreign = entry('foreign', { annotations: { 'org.example/by': 'another tool' } })
    const current = asManifest({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [foreign],
      annotations: { a: 'b' }
    })
    const merged = JSON.parse(mergeIndex(current, subject, [entry('sig'), foreign])!.bytes.toString())
    expect(merged.manifests).toEqual([foreign, entry('sig')])
    expect(merged.annotations).toEqual({ a: 'b' })
  })

  test('writes nothing when every entry is listed already', () => {
    const current = asManifest({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [entry('sig')] })
    expect(mergeIndex(current, subject, [entry('sig')])).toBeUndefined()
  })

  test.each([
    [
      'an image pushed under the tag (cosign copy)',
      asManifest({ schemaVersion: 2, config: {}, layers: [] }, OCI_MANIFEST)
    ],
    [
      'the subject itself (GitLab resolves the tag to it)',
      { ...asManifest({ manifests: [entry('x')] }), digest: sha('subject') }
    ]
  ])('replaces what is not a referrers index: %s', (_, current) => {
    const merged = JSON.parse(mergeIndex(current, subject, [entry('sig')])!.bytes.toString())
    expect(merged.manifests).toEqual([entry('sig')])
  })
})

describe('unionDigestTag', () => {
  const layer = (name: string) => ({
    mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
    digest: sha(name),
    size: 10,
    annotations: { 'dev.cosignproject.cosign/signature': `sig-of-${name}` }
  })
  const sigManifest = (layers: unknown[], config = 'config') =>
    asManifest(
      {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: 5 },
        layers
      },
      OCI_MANIFEST
    )

  test("appends our signatures to the destination's, keeping theirs first and their config", () => {
    const theirs = sigManifest([layer('theirs')], 'their-config')
    const ours = sigManifest([layer('ours'), layer('theirs')])
    const union = unionDigestTag(theirs, ours)
    const doc = JSON.parse(union.bytes.toString())
    expect(doc.layers).toEqual([layer('theirs'), layer('ours')])
    expect(doc.config.digest).toBe(sha('their-config'))
    expect(union.mediaType).toBe(OCI_MANIFEST)
    expect(union.digest).toBe(sha(union.bytes.toString()))
  })
})

describe('nextPage', () => {
  test.each([
    ['</v2/a/tags/list?n=2&last=b>; rel="next"', '/v2/a/tags/list?n=2&last=b'],
    [
      '<https://r.example/v2/a/referrers/sha256:1?last=x>;rel=next',
      'https://r.example/v2/a/referrers/sha256:1?last=x'
    ],
    ['</v2/a/tags/list?n=2>; rel="prev"', undefined],
    [undefined, undefined]
  ])('%s', (link, next) => {
    expect(nextPage(link)).toBe(next)
  })
})
