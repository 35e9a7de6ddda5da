// A fault-injecting HTTP proxy that tests put between the action and a real registry (or token
// server). Faults come from rules (exact, counted) or at random from a seeded generator (soak), and
// every injected fault is counted so a test can say how many it survived.
import { createServer, request as httpRequest } from 'node:http'

/**
 * rule: { method?: string, path?: RegExp, times?: number, fault: Fault }
 * Fault: { status: number, headers?: object, body?: string }   answer instead of the registry
 *      | { resetResponseAfter: number }   forward, then cut the connection after N body bytes
 *      | { resetRequestAfter: number }    cut the connection after N bytes of the request body
 *      | { corrupt: true }                forward, but flip the bytes of the response body
 *      | { redirectTo: string }           answer 307 to this origin, same path and query
 *      | { delayMs: number }              forward after a pause (a slow link, a long copy)
 *      | { addHeaders: object }           forward, adding response headers
 *      | { throttleBytesPerSecond: number, resetResponseAfter?: number }
 *                                         forward the body slowly (a long transfer), then cut the
 *                                         connection after N body bytes when resetResponseAfter is set
 *      | { mapStatus: Record<number, number> }  forward, answering another status (and no body) for
 *                                         those listed: { 404: 403 } as Artifactory answers a HEAD
 *      | { dropResponse: true }           forward, read the registry's answer, then cut the connection
 *                                         instead of answering (the request took effect; its answer is lost)
 *      | { handle: (req, res) => void }   anything else
 * random: { seed, reset?, error5xx?, throttle429? }: per-request probabilities (soak).
 * intercept(req, res): called first; returns true when it answered the request itself.
 * relativeLocations: Location headers become paths (with their query), as some registries send them.
 *
 * @param {string} targetUrl
 * @param {{
 *   rules?: any[],
 *   random?: { seed: number, reset?: number, error5xx?: number, throttle429?: number },
 *   relativeLocations?: boolean,
 *   intercept?: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean | Promise<boolean>
 * }} [options]
 */
export async function startFaultProxy(
  targetUrl,
  { rules = [], random = undefined, intercept = undefined, relativeLocations = false } = {}
) {
  let target = new URL(targetUrl)
  const stats = {
    requests: 0,
    injected: /** @type {Record<string, number>} */ ({}),
    log: /** @type {any[]} */ ([])
  }
  let down = false
  const nextRandom = random ? mulberry32(random.seed) : undefined
  const sockets = new Set()

  const count = (kind) => {
    stats.injected[kind] = (stats.injected[kind] ?? 0) + 1
  }

  const pickRule = (req) => {
    for (const rule of rules) {
      if ((rule.times ?? 1) <= 0) continue
      if (rule.method && rule.method !== req.method) continue
      if (rule.path && !rule.path.test(req.url)) continue
      if (rule.when && !rule.when(req)) continue
      rule.times = (rule.times ?? 1) - 1
      return rule
    }
    return undefined
  }

  const pickRandom = (req) => {
    if (!nextRandom) return undefined
    // Only faults a client may meet on any request: never on the first ping, so a run can start.
    if (req.url === '/v2/') return undefined
    const roll = nextRandom()
    let edge = random.reset ?? 0
    if (roll < edge)
      return {
        fault:
          req.method === 'GET' && req.url.includes('/blobs/') ? { resetResponseAfter: 512 } : { status: 0 }
      }
    edge += random.error5xx ?? 0
    if (roll < edge) return { fault: { status: [500, 502, 503][Math.floor(nextRandom() * 3)] } }
    edge += random.throttle429 ?? 0
    if (roll < edge) return { fault: { status: 429, headers: { 'retry-after': '0' } } }
    return undefined
  }

  const server = createServer(async (req, res) => {
    stats.requests++
    stats.log.push({
      method: req.method,
      url: req.url,
      headers: { ...req.headers },
      authorization: req.headers.authorization,
      at: Date.now()
    })
    if (intercept && (await intercept(req, res))) return
    if (down) {
      count('down')
      req.socket.destroy()
      return
    }
    const rule = pickRule(req) ?? pickRandom(req)
    const fault = rule?.fault
    if (fault?.status === 0) {
      count('reset')
      req.socket.destroy()
      return
    }
    if (fault?.status) {
      count(`status ${fault.status}`)
      req.resume()
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers })
      res.end(
        fault.body ??
          JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: `injected ${fault.status}` }] })
      )
      return
    }
    if (fault?.redirectTo) {
      count('redirect')
      req.resume()
      res.writeHead(307, { location: `${fault.redirectTo}${req.url}` }).end()
      return
    }
    if (fault?.delayMs) {
      count('delay')
      req.pause()
      setTimeout(() => {
        req.resume()
        forward(req, res)
      }, fault.delayMs)
      return
    }
    if (fault?.handle) {
      count('handled')
      fault.handle(req, res)
      return
    }
    forward(req, res, fault)
  })

  function forward(req, res, fault) {
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host }
      },
      (answer) => {
        const headers = { ...answer.headers, ...fault?.addHeaders }
        if (headers.location) {
          // Keep the client on the proxy; `relativeLocations` answers as registries that send paths do.
          headers.location = headers.location.replace(
            target.origin,
            relativeLocations ? '' : `http://${req.headers.host}`
          )
        }
        if (fault?.dropResponse) {
          count('response dropped')
          answer.resume()
          answer.on('end', () => res.socket?.destroy())
          return
        }
        const mapped = fault?.mapStatus?.[answer.statusCode]
        if (mapped !== undefined) {
          count(`status ${answer.statusCode} as ${mapped}`)
          answer.resume()
          delete headers['content-length']
          delete headers['content-type']
          res.writeHead(mapped, { ...headers, 'content-length': '0' })
          res.end()
          return
        }
        res.writeHead(answer.statusCode, headers)
        if (fault?.throttleBytesPerSecond) {
          count(fault.resetResponseAfter === undefined ? 'throttle' : 'throttle then reset')
          throttle(answer, res, fault.throttleBytesPerSecond, fault.resetResponseAfter)
          return
        }
        if (fault?.resetResponseAfter !== undefined) {
          count('reset mid-response')
          let sent = 0
          answer.on('data', (chunk) => {
            const room = fault.resetResponseAfter - sent
            if (room > 0) res.write(chunk.subarray(0, room))
            sent += chunk.length
            if (sent >= fault.resetResponseAfter) {
              answer.destroy()
              // Let the bytes already written leave before the connection drops.
              setTimeout(() => res.socket?.destroy(), 20)
            }
          })
          answer.on('end', () => res.socket?.destroy())
          return
        }
        if (fault?.corrupt) {
          count('corrupt')
          answer.on('data', (chunk) => res.write(Buffer.from(chunk.map((b) => b ^ 0xff))))
          answer.on('end', () => res.end())
          return
        }
        answer.pipe(res)
      }
    )
    upstream.on('error', () => res.destroy())
    if (fault?.resetRequestAfter !== undefined) {
      count('reset mid-request')
      let received = 0
      req.on('data', (chunk) => {
        received += chunk.length
        if (received >= fault.resetRequestAfter) {
          upstream.destroy()
          req.socket.destroy()
        } else upstream.write(chunk)
      })
      req.on('end', () => upstream.end())
      return
    }
    req.pipe(upstream)
  }

  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  const port = await new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(server.address().port))
  )
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    stats,
    rules,
    /** Points the proxy elsewhere (a token server started after the proxy, say). */
    setTarget(url) {
      target = new URL(url)
    },
    /** Drops every connection and refuses new ones until `up()` (a registry restart, say). */
    down() {
      down = true
      for (const s of sockets) s.destroy()
    },
    up() {
      down = false
    },
    totalInjected: () => Object.values(stats.injected).reduce((a, b) => a + b, 0),
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}

/**
 * Writes `answer` to `res` at about `bytesPerSecond` (slices every 50 ms); after `resetAfter` bytes,
 * when given, cuts the connection as a reset mid-transfer would.
 */
function throttle(answer, res, bytesPerSecond, resetAfter = Infinity) {
  const slice = Math.max(1, Math.floor(bytesPerSecond / 20))
  let sent = 0
  res.on('close', () => answer.destroy())
  ;(async () => {
    try {
      for await (const chunk of answer) {
        for (let at = 0; at < chunk.length && sent < resetAfter;) {
          const part = chunk.subarray(at, Math.min(at + slice, chunk.length, at + (resetAfter - sent)))
          at += part.length
          sent += part.length
          if (res.destroyed) return
          res.write(part)
          await new Promise((r) => setTimeout(r, 50))
        }
        if (sent >= resetAfter) break
      }
    } catch {
      // The registry side failed: the client sees the connection drop below.
      res.socket?.destroy()
      return
    }
    if (sent >= resetAfter) {
      answer.destroy()
      // Let the bytes already written leave before the connection drops.
      setTimeout(() => res.socket?.destroy(), 20)
    } else res.end()
  })()
}

/** A small seeded PRNG, so a soak run can be replayed. */
export function mulberry32(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
