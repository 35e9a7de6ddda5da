// Short-lived credentials (a Docker Hub access token from an OIDC exchange) refused by a real token
// server: the client asks for fresh ones once, however many requests were refused together.
import { afterAll, beforeAll, expect, test } from '@jest/globals'
import { USERS, startRegistry } from '../../scripts/lib/registries.mjs'
import { seedImage } from '../../scripts/lib/images.mjs'
import { headManifest, RegistryClient, RegistryError } from '../../src/registry/index.js'

let registry: Awaited<ReturnType<typeof startRegistry>>
let digest: string
beforeAll(async () => {
  registry = await startRegistry({ auth: 'token', name: 'refresh' })
  digest = (await seedImage(registry, 'acme/app', 'v1', { platforms: ['linux/amd64'] })).digest
})
afterAll(async () => registry?.stop())

function client(refreshCredentials?: () => Promise<{ username: string; password: string }>) {
  return new RegistryClient({
    registry: registry.host,
    scheme: 'http',
    credentials: { username: 'promoter', password: 'an-expired-access-token' },
    refreshCredentials
  })
}

test('a refused token request gets fresh credentials once, and every waiting request goes on', async () => {
  let refreshes = 0
  const c = client(async () => {
    refreshes++
    await new Promise((r) => setTimeout(r, 20))
    return { username: 'promoter', password: USERS.promoter.password }
  })
  const heads = await Promise.all(
    ['v1', 'v1', digest].map((ref) => headManifest(c, 'acme/app', ref, ['repository:acme/app:pull,push']))
  )
  expect(heads.map((h) => h?.digest)).toEqual([digest, digest, digest])
  expect(refreshes).toBe(1)
  await c.close()
})

test('without a way to refresh, the refusal is the error', async () => {
  const c = client()
  const error = await headManifest(c, 'acme/app', 'v1').catch((e: unknown) => e)
  expect(error).toBeInstanceOf(RegistryError)
  expect((error as RegistryError).message).toMatch(/refused the credentials/)
  await c.close()
})

test('fresh credentials that are refused too are not refreshed again: the refusal is reported', async () => {
  let refreshes = 0
  const c = client(async () => (refreshes++, { username: 'promoter', password: 'still-wrong' }))
  await expect(headManifest(c, 'acme/app', 'v1')).rejects.toThrow(/refused the credentials/)
  // Later requests do not exchange again either: the refusal is not an expiry.
  await expect(headManifest(c, 'acme/app', 'v1', ['repository:acme/app:pull,push'])).rejects.toThrow(
    /refused the credentials/
  )
  expect(refreshes).toBe(1)
  await c.close()
})

test('a refresh that fails keeps the refusal it was meant to cure in the message', async () => {
  const c = client(() => Promise.reject(new Error('exchange failed: HTTP 429')))
  await expect(headManifest(c, 'acme/app', 'v1')).rejects.toThrow(
    /refused the credentials.*fresh credentials could not be had either: exchange failed: HTTP 429/
  )
  await c.close()
})
