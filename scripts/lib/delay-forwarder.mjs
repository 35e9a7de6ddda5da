// A TCP forwarder that adds latency (not a bandwidth cap) in each direction, so a loopback registry
// behaves like one across a WAN: every request pays the round trip, as ECR-to-Docker-Hub copies do.
import { connect, createServer } from 'node:net'

export async function startDelayForwarder(target, delayMs) {
  const [host, port] = target.split(':')
  const sockets = new Set()
  const delayed = (from, to) => {
    from.on('data', (chunk) => {
      // Same delay for every chunk: timers fire in order, so the byte stream stays in order.
      setTimeout(() => to.destroyed || to.write(chunk), delayMs)
    })
    from.on('end', () => setTimeout(() => to.end(), delayMs))
    from.on('error', () => to.destroy())
  }
  const server = createServer((client) => {
    const upstream = connect(Number(port), host)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
    }
    delayed(client, upstream)
    delayed(upstream, client)
  })
  const listenPort = await new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(server.address().port))
  )
  return {
    host: `127.0.0.1:${listenPort}`,
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}
