import { afterEach, describe, expect, test } from '@jest/globals'
import {
  bypassesProxy,
  parseNoProxy,
  ProxyAwareDispatcher,
  readProxyEnvironment
} from '../../src/registry/dispatcher.js'

describe('NO_PROXY', () => {
  test.each([
    ['', 'https://registry-1.docker.io/v2/', false],
    ['*', 'https://registry-1.docker.io/v2/', true],
    ['docker.io', 'https://registry-1.docker.io/v2/', true],
    ['.docker.io', 'https://registry-1.docker.io/v2/', true],
    ['*.docker.io', 'https://auth.docker.io/token', true],
    ['registry-1.docker.io', 'https://auth.docker.io/token', false],
    ['ocker.io', 'https://registry-1.docker.io/v2/', false],
    ['127.0.0.1,localhost', 'http://127.0.0.1:5000/v2/', true],
    ['localhost:5000', 'http://localhost:5000/v2/', true],
    ['localhost:5001', 'http://localhost:5000/v2/', false],
    ['example.com:443', 'https://example.com/v2/', true],
    ['[::1]', 'http://[::1]:5000/v2/', true],
    [' amazonaws.com , docker.io ', 'https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/', true],
    ['AMAZONAWS.COM', 'https://sts.us-east-1.amazonaws.com/', true]
  ])('NO_PROXY=%j, %s -> bypass %s', (noProxy, url, expected) => {
    expect(bypassesProxy(new URL(url), parseNoProxy(noProxy))).toBe(expected)
  })
})

describe('ProxyAwareDispatcher', () => {
  let dispatcher: ProxyAwareDispatcher | undefined
  afterEach(async () => {
    await dispatcher?.close()
    dispatcher = undefined
  })

  test('HTTPS goes through HTTPS_PROXY, HTTP through HTTP_PROXY, NO_PROXY goes direct', () => {
    dispatcher = new ProxyAwareDispatcher({
      httpsProxy: 'http://proxy.internal:3128',
      noProxy: 'internal.example'
    })
    expect(dispatcher.usesProxy('https://registry-1.docker.io')).toBe(true)
    expect(dispatcher.usesProxy('http://127.0.0.1:5000')).toBe(false)
    expect(dispatcher.usesProxy('https://registry.internal.example')).toBe(false)
  })

  test('no proxy variables: everything direct', () => {
    dispatcher = new ProxyAwareDispatcher({})
    expect(dispatcher.usesProxy('https://registry-1.docker.io')).toBe(false)
  })

  test('lower-case variables win, as curl reads them', () => {
    expect(
      readProxyEnvironment({ https_proxy: 'http://a:1', HTTPS_PROXY: 'http://b:2', NO_PROXY: 'x' })
    ).toEqual({
      httpProxy: undefined,
      httpsProxy: 'http://a:1',
      noProxy: 'x'
    })
  })
})
