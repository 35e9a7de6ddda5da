// An HTTPS proxy (HTTP CONNECT) that routes real host names to local servers, the way a runner's
// corporate proxy would reach the internet. Unknown hosts are refused, so nothing leaves the machine.
import { createServer } from 'node:http'
import { connect } from 'node:net'

/** @param {Record<string, string>} routes e.g. { 'registry-1.docker.io:443': '127.0.0.1:40001' } */
export async function startConnectProxy(routes) {
  const tunnels = []
  const sockets = new Set()
  const server = createServer((req, res) => {
    res.writeHead(405, { 'content-type': 'text/plain' }).end('this test proxy only tunnels (CONNECT)\n')
  })
  server.on('connect', (req, client, head) => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    const target = routes[req.url]
    tunnels.push({ target: req.url, authorization: req.headers['proxy-authorization'], allowed: !!target })
    if (!target) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n')
      return
    }
    const [host, port] = target.split(':')
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      if (head.length) upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    sockets.add(upstream)
    upstream.on('close', () => sockets.delete(upstream))
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
  })
  const port = await new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(server.address().port))
  )
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}
