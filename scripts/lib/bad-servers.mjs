// Proxies and registries that misbehave on purpose, on 127.0.0.1: they close at once, stall, close a
// tunnel they just opened, refuse CONNECT, or accept and never say a word. Each returns
// { host, url, stats, connections, waitForRequests(n), stop() }; stop() destroys every socket it holds,
// so a test file never hangs on a connection one of these left open.
import { STATUS_CODES } from 'node:http'
import { createServer } from 'node:net'

/**
 * One TCP server. `onConnection(socket, stats)` decides what to do with each client; `readHead`
 * first collects the request head (up to the blank line) and hands it to `onHead(socket, head)`.
 * @param {{
 *   onConnection?: (socket: import('node:net').Socket) => void,
 *   onHead?: (socket: import('node:net').Socket, head: string) => void
 * }} behaviour
 */
async function startBadServer({ onConnection, onHead }) {
  const sockets = new Set()
  /** @type {{ connections: number, requests: string[] }} requests: the first line of each request head */
  const stats = { connections: 0, requests: [] }
  const waiters = []
  const settleWaiters = () => {
    for (const waiter of [...waiters]) {
      if (stats.requests.length >= waiter.n) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
    }
  }
  const server = createServer((socket) => {
    stats.connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    // A client that gives up resets the socket; that is expected here, never a crash.
    socket.on('error', () => undefined)
    if (onConnection) return onConnection(socket)
    let buffered = ''
    socket.on('data', function collect(chunk) {
      buffered += chunk.toString('latin1')
      const end = buffered.indexOf('\r\n\r\n')
      if (end === -1) return
      socket.removeListener('data', collect)
      const head = buffered.slice(0, end)
      stats.requests.push(head.split('\r\n')[0])
      settleWaiters()
      onHead?.(socket, head)
    })
  })
  const port = await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(server.address().port))
  })
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    stats,
    get connections() {
      return stats.connections
    },
    /** Resolves once `n` request heads (CONNECT lines, for the proxies) have arrived. */
    waitForRequests(n = 1) {
      return new Promise((resolve) => {
        waiters.push({ n, resolve })
        settleWaiters()
      })
    },
    stop: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}

/** A proxy that closes every connection the moment it accepts it, before reading a byte. */
export function startClosingProxy() {
  return startBadServer({ onConnection: (socket) => socket.destroy() })
}

/** A proxy that reads the CONNECT request and never answers it; the socket stays open until stop(). */
export function startStallingProxy() {
  return startBadServer({ onHead: (socket) => socket.resume() })
}

/** A proxy that answers 200 Connection Established to CONNECT, then closes the tunnel at once. */
export function startTunnelClosingProxy() {
  return startBadServer({
    onHead: (socket) => socket.end('HTTP/1.1 200 Connection Established\r\n\r\n')
  })
}

/** A proxy whose policy refuses every CONNECT: it answers `status` (403 Forbidden) and closes. */
export function startRefusingProxy(status = 403) {
  const line = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Refused'}`
  return startBadServer({
    onHead: (socket) => socket.end(`${line}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
  })
}

/** A "registry" that accepts connections, reads what it is sent and never writes a byte back. */
export function startSilentServer() {
  return startBadServer({ onHead: (socket) => socket.resume() })
}
