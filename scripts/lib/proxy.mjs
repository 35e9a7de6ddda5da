// A forwarding HTTP proxy that tests put in front of a real registry to change what it answers:
// `intercept(req, res)` may answer a request itself (return true) or let it through. `seen` lists
// every request. It is the fault proxy with no faults of its own.
import { startFaultProxy } from './fault-proxy.mjs'

/**
 * @param {string} targetUrl
 * @param {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean | Promise<boolean>} [intercept]
 */
export async function startForwarder(targetUrl, intercept) {
  const proxy = await startFaultProxy(targetUrl, { intercept })
  return { host: proxy.host, url: proxy.url, seen: proxy.stats.log, stop: proxy.stop }
}
