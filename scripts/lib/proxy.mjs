// A forwarding HTTP proxy that tests put in front of a real registry to change what it answers:
// `intercept(req, res)` may answer a request itself (return true) or let it through.
import { createServer, request as httpRequest } from 'node:http'

/**
 * @param {string} targetUrl
 * @param {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean | Promise<boolean>} [intercept]
 */
export async function startForwarder(targetUrl, intercept = () => false) {
  const target = new URL(targetUrl)
  const seen = []
  const server = createServer(async (req, res) => {
    seen.push({ method: req.method, url: req.url, headers: { ...req.headers } })
    if (await intercept(req, res)) return
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host }
      },
      (answer) => {
        const headers = { ...answer.headers }
        // Keep Location on the forwarder so the client keeps talking through it.
        if (headers.location)
          headers.location = headers.location.replace(target.origin, `http://${req.headers.host}`)
        res.writeHead(answer.statusCode, headers)
        answer.pipe(res)
      }
    )
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  const port = await new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(server.address().port))
  )
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    seen,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
