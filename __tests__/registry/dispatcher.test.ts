import { afterEach, describe, expect, test } from '@jest/globals'
import * as net from 'node:net'
import { openTunnel, proxyAuthorization } from '../../src/registry/tunnel.js'
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

describe('CONNECT tunnels', () => {
  test('credentials in a proxy URL are decoded as curl does; a % that does not decode is sent as written', () => {
    const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`
    expect(proxyAuthorization(new URL('http://alice:p%40ss@proxy:3128'))).toBe(basic('alice:p@ss'))
    expect(proxyAuthorization(new URL('http://alice:50%off@proxy:3128'))).toBe(basic('alice:50%off'))
    expect(proxyAuthorization(new URL('http://proxy:3128'))).toBeUndefined()
  })

  test('bytes that arrive with the answer to CONNECT belong to the tunnel', async () => {
    const server = net.createServer((socket) =>
      socket.once('data', () => socket.write('HTTP/1.1 200 Connection Established\r\n\r\nHELLO'))
    )
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    const port = (server.address() as { port: number }).port
    try {
      const socket = await new Promise<net.Socket>((resolve, reject) =>
        openTunnel({ proxy: new URL(`http://127.0.0.1:${port}`), timeoutMs: 2000 }, 'example:443', (e, s) =>
          e ? reject(e) : resolve(s!)
        )
      )
      // Read later, as undici does after the handover: nothing may have been emitted meanwhile.
      await new Promise((r) => setTimeout(r, 50))
      const first = await new Promise<string>((r) => {
        socket.once('data', (d: Buffer) => r(d.toString()))
        socket.resume()
        setTimeout(() => r('(nothing: the bytes were lost)'), 2000).unref()
      })
      expect(first).toBe('HELLO')
      socket.destroy()
    } finally {
      await new Promise((r) => server.close(r))
    }
  })

  test('a proxy whose host name does not resolve is named as the proxy', async () => {
    const error = await new Promise<Error | null>((resolve) =>
      openTunnel(
        { proxy: new URL('http://no-such-proxy.invalid:3128'), timeoutMs: 5000 },
        'example:443',
        (e) => resolve(e)
      )
    )
    expect(error?.message).toBe("the proxy's host name no-such-proxy.invalid was not found")
    expect((error as { retryable?: boolean }).retryable).toBe(false)
  })
})
