// HTTP CONNECT tunnels through a proxy, with a deadline of our own. undici's ProxyAgent has none for
// the CONNECT answer (a stalled proxy hung a run for minutes) and reports its failures in words a
// user cannot act on; here every failure names what the proxy did.
import { connect as connectTcp, type Socket } from 'node:net'
import { connect as connectTls } from 'node:tls'
import { buildConnector } from 'undici'
import { ProxyTunnelError } from './network.js'

export interface TunnelOptions {
  proxy: URL
  timeoutMs: number
  /** Proxy-Authorization for the CONNECT request (see proxyAuthorization). */
  authorization?: string
}

type ConnectOptions = Parameters<buildConnector.connector>[0]
type Callback = Parameters<buildConnector.connector>[1]

/** An undici `connect` function that reaches every origin through the proxy. */
export function createTunnelConnector(options: TunnelOptions): buildConnector.connector {
  const tls = buildConnector({ timeout: options.timeoutMs })
  return (target: ConnectOptions, callback: Callback) => {
    const port = target.port || (target.protocol === 'https:' ? '443' : '80')
    // Callbacks, not promises: the socket must reach undici in the same tick as the proxy's answer,
    // or a close that follows at once (nextTick runs before promise jobs) would reach no one.
    openTunnel(options, `${target.hostname}:${port}`, (error, socket) => {
      if (error || !socket) return callback(error ?? new Error('no tunnel'), null)
      if (target.protocol !== 'https:') return callback(null, socket)
      tls({ ...target, httpSocket: socket }, (tlsError, secure) => {
        if (tlsError) {
          socket.destroy()
          callback(tlsError, null)
        } else callback(null, secure)
      })
    })
  }
}

/** undici's own connector, with the early-close guard (see replayEarlyClose). */
export function createDirectConnector(timeoutMs: number): buildConnector.connector {
  const connect = buildConnector({ timeout: timeoutMs })
  return (target: ConnectOptions, callback: Callback) =>
    connect(target, (error, socket) => {
      if (error || !socket) return callback(error ?? new Error('no socket'), null)
      replayEarlyClose(socket as Socket)
      callback(null, socket)
    })
}

/** Opens a socket to the proxy and asks it for a tunnel to `authority` (host:port). */
export function openTunnel(
  options: TunnelOptions,
  authority: string,
  done: (error: Error | null, socket?: Socket) => void
): void {
  const { proxy, timeoutMs } = options
  const port = Number(proxy.port || (proxy.protocol === 'https:' ? 443 : 80))
  const host = proxy.hostname.replace(/^\[|\]$/g, '')
  const socket: Socket =
    proxy.protocol === 'https:'
      ? connectTls({ host, port, servername: host, ALPNProtocols: ['http/1.1'] })
      : connectTcp({ host, port })
  let settled = false
  let answer = Buffer.alloc(0)
  const closed = (): void =>
    fail(new ProxyTunnelError('the proxy closed the connection before answering CONNECT', true))
  // Our own listeners only, so that they can be removed by reference: Node's are left in place.
  const onError = (error: NodeJS.ErrnoException): void => fail(proxyFailure(error, proxy))
  const detach = (): void => {
    socket.removeListener('data', onData)
    socket.removeListener('error', onError)
    socket.removeListener('end', closed)
    socket.removeListener('close', closed)
  }
  const fail = (error: Error): void => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    detach()
    socket.on('error', () => undefined)
    socket.destroy()
    done(error)
  }
  const timer = setTimeout(
    () =>
      fail(
        new ProxyTunnelError(
          `the proxy did not answer CONNECT within ${Math.round(timeoutMs / 100) / 10} s`,
          true
        )
      ),
    timeoutMs
  )
  socket.once(proxy.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
    const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`]
    const authorization = options.authorization
    if (authorization) lines.push(`Proxy-Authorization: ${authorization}`)
    socket.write(`${lines.join('\r\n')}\r\n\r\n`)
  })
  function onData(chunk: Buffer): void {
    answer = Buffer.concat([answer, chunk])
    const end = answer.indexOf('\r\n\r\n')
    if (end === -1) {
      if (answer.length > 16 * 1024)
        fail(new ProxyTunnelError('the proxy sent an over-long answer to CONNECT', false))
      return
    }
    const status = /^HTTP\/1\.[01] (\d{3})\s*([^\r\n]*)/.exec(answer.subarray(0, end).toString('latin1'))
    if (!status)
      return fail(new ProxyTunnelError('the proxy answered CONNECT with something that is not HTTP', false))
    const code = Number(status[1])
    if (code < 200 || code > 299) return fail(refusal(code, status[2].trim()))
    clearTimeout(timer)
    socket.removeListener('data', onData)
    const rest = answer.subarray(end + 4)
    // Hand the socket over only after this turn of the event loop: undici takes it in a promise
    // continuation, and a proxy that closes right after its answer would close it before undici
    // listens (the close events run first), leaving a request that never settles.
    setImmediate(() => {
      if (settled) return
      if (socket.destroyed || socket.readableEnded) return closed()
      settled = true
      detach()
      // undici attaches its own listeners next; an error in between must not crash the process.
      socket.on('error', () => undefined)
      if (rest.length) {
        // Bytes that came with the answer belong to the tunnel: hold them until undici reads.
        socket.pause()
        socket.unshift(rest)
      }
      replayEarlyClose(socket)
      done(null, socket)
    })
  }
  socket.on('data', onData)
  socket.on('error', onError)
  socket.on('end', closed)
  socket.on('close', closed)
}

/**
 * undici attaches its socket listeners only after its HTTP parser has loaded (asynchronously, the
 * first time), and does not look at the socket's state then: a tunnel the proxy closed in between
 * was seen to leave a request that never settles. A close that no one else heard is replayed once
 * undici listens.
 */
export function replayEarlyClose(socket: Socket): void {
  socket.once('close', (hadError: boolean) => {
    if (socket.listenerCount('close') > 0) return
    let tries = 0
    const replay = (): void => {
      if (socket.listenerCount('close') > 0) socket.emit('close', hadError)
      else if (++tries < 1000) setImmediate(replay)
    }
    setImmediate(replay)
  })
}

/** A failure reaching the proxy itself, in words that say it was the proxy. */
function proxyFailure(error: NodeJS.ErrnoException, proxy: URL): Error {
  const code = error.code ?? ''
  const words: Record<string, [string, boolean]> = {
    ECONNREFUSED: ['the proxy refused the connection', true],
    ENOTFOUND: [`the proxy's host name ${proxy.hostname} was not found`, false],
    EAI_AGAIN: [`the proxy's host name ${proxy.hostname} could not be looked up for now (EAI_AGAIN)`, true],
    ECONNRESET: ['the proxy closed the connection before answering CONNECT', true],
    EPIPE: ['the proxy closed the connection before answering CONNECT', true],
    ETIMEDOUT: ['no connection to the proxy', true],
    EHOSTUNREACH: [`the proxy is unreachable (${code})`, true],
    ENETUNREACH: [`the proxy is unreachable (${code})`, true]
  }
  const known = words[code]
  if (known) return new ProxyTunnelError(known[0], known[1])
  if (/CERT|SSL|TLS/.test(code)) {
    return new ProxyTunnelError(
      `the proxy's TLS certificate was not accepted (${code}); a private CA goes in NODE_EXTRA_CA_CERTS`,
      false
    )
  }
  return new ProxyTunnelError(`the connection to the proxy failed: ${error.message}`, true)
}

function refusal(status: number, text: string): ProxyTunnelError {
  const words = `${status}${text ? ` ${text}` : ''}`
  if (status === 407) {
    return new ProxyTunnelError(
      `the proxy answered ${words} to CONNECT: it wants credentials (put them in the proxy URL, http://USER:PASSWORD@HOST:PORT)`,
      false,
      status
    )
  }
  // A proxy's 5xx is often its upstream failing; its 4xx is policy, and will not change.
  return new ProxyTunnelError(
    `the proxy answered ${words} to CONNECT${status < 500 ? ' (its policy refuses this host; ask for it to be allowed, or add it to NO_PROXY)' : ''}`,
    status >= 500,
    status
  )
}

/**
 * The Proxy-Authorization value for credentials in a proxy URL (percent-decoded as curl does), or
 * undefined. A value that does not decode is sent as written. Never part of a message.
 */
export function proxyAuthorization(proxy: URL): string | undefined {
  if (!proxy.username && !proxy.password) return undefined
  const decode = (value: string): string => {
    try {
      return decodeURIComponent(value)
    } catch {
      return value
    }
  }
  return `Basic ${Buffer.from(`${decode(proxy.username)}:${decode(proxy.password)}`).toString('base64')}`
}
