// The one HTTP connection pool for a run: keep-alive connections per origin, and HTTPS_PROXY /
// HTTP_PROXY / NO_PROXY honoured the way curl and the runner's own tools read them, and timeouts
// of our own on every connection.
import { Agent, Dispatcher } from 'undici'
import { resolveNetwork, type NetworkOptions } from './network.js'
import { createDirectConnector, createTunnelConnector, proxyAuthorization } from './tunnel.js'

export interface ProxyEnvironment {
  httpProxy?: string
  httpsProxy?: string
  noProxy?: string
}

export function readProxyEnvironment(env: NodeJS.ProcessEnv = process.env): ProxyEnvironment {
  const pick = (name: string): string | undefined =>
    env[name.toLowerCase()] || env[name.toUpperCase()] || undefined
  return { httpProxy: pick('http_proxy'), httpsProxy: pick('https_proxy'), noProxy: pick('no_proxy') }
}

const KEEP_ALIVE: Agent.Options = { keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000 }

interface Route {
  agent: Agent
  /** `127.0.0.1:3128 (HTTPS_PROXY)`, for messages; undefined for direct connections. */
  proxy?: string
}

/**
 * A dispatcher that sends each origin directly or through the proxy its scheme calls for, with
 * connect, response and idle timeouts of our own on every connection.
 */
export class ProxyAwareDispatcher extends Dispatcher {
  readonly network: NetworkOptions
  private readonly direct: Route
  private readonly httpProxy?: Route
  private readonly httpsProxy?: Route
  private readonly noProxy: NoProxyRule[]

  constructor(environment: ProxyEnvironment = readProxyEnvironment(), network: Partial<NetworkOptions> = {}) {
    super()
    this.network = resolveNetwork(network)
    const timeouts: Agent.Options = {
      ...KEEP_ALIVE,
      headersTimeout: this.network.responseTimeoutMs,
      bodyTimeout: this.network.idleTimeoutMs
    }
    this.direct = {
      agent: new Agent({ ...timeouts, connect: createDirectConnector(this.network.connectTimeoutMs) })
    }
    const viaProxy = (value: string, variable: string): Route => {
      const proxy = parseProxyUrl(value, variable)
      return {
        agent: new Agent({
          ...timeouts,
          connect: createTunnelConnector({
            proxy,
            timeoutMs: this.network.connectTimeoutMs,
            authorization: proxyAuthorization(proxy)
          })
        }),
        proxy: `${proxy.host} (${variable})`
      }
    }
    if (environment.httpProxy) this.httpProxy = viaProxy(environment.httpProxy, 'HTTP_PROXY')
    if (environment.httpsProxy) this.httpsProxy = viaProxy(environment.httpsProxy, 'HTTPS_PROXY')
    this.noProxy = parseNoProxy(environment.noProxy)
  }

  /** Whether requests to this origin go through a proxy (for logs and tests). */
  usesProxy(origin: string | URL): boolean {
    return this.pick(new URL(origin)) !== this.direct
  }

  /** `through proxy HOST:PORT (VARIABLE)` for an origin sent through a proxy, else ''. */
  describeRoute(origin: string | URL): string {
    const proxy = this.pick(new URL(origin)).proxy
    return proxy ? ` through proxy ${proxy}` : ''
  }

  private pick(url: URL): Route {
    const proxy = url.protocol === 'https:' ? this.httpsProxy : this.httpProxy
    if (!proxy || bypassesProxy(url, this.noProxy)) return this.direct
    return proxy
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandlers): boolean {
    return this.pick(new URL(String(options.origin))).agent.dispatch(options, handler)
  }

  private routes(): Route[] {
    return [this.direct, this.httpProxy, this.httpsProxy].filter((r): r is Route => !!r)
  }

  override async close(): Promise<void> {
    await Promise.all(this.routes().map((r) => r.agent.close()))
  }

  override async destroy(): Promise<void> {
    await Promise.all(this.routes().map((r) => r.agent.destroy()))
  }
}

/** A proxy URL as curl reads it: a bare `host:port` means http://. Never echoes credentials. */
function parseProxyUrl(value: string, variable: string): URL {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new RangeError(`${variable} is not a URL; write http://HOST:PORT`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RangeError(
      `${variable} has scheme ${url.protocol}//; only http:// and https:// proxies are supported`
    )
  }
  return url
}

export interface NoProxyRule {
  host: string
  port?: string
}

export function parseNoProxy(value: string | undefined): NoProxyRule[] {
  if (!value) return []
  return value
    .split(/[,\s]+/)
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean)
    .map((entry) => {
      const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry)
      if (bracketed) return { host: bracketed[1], port: bracketed[2] }
      const colon = entry.lastIndexOf(':')
      if (colon > 0 && entry.indexOf(':') === colon && /^\d+$/.test(entry.slice(colon + 1))) {
        return { host: entry.slice(0, colon), port: entry.slice(colon + 1) }
      }
      return { host: entry }
    })
}

/** NO_PROXY: `*`, exact hosts, and domain suffixes (`.example.com` or `example.com`), optional port. */
export function bypassesProxy(url: URL, rules: NoProxyRule[]): boolean {
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '')
  const port = url.port || (url.protocol === 'https:' ? '443' : '80')
  return rules.some((rule) => {
    if (rule.host === '*') return true
    if (rule.port && rule.port !== port) return false
    const suffix = rule.host.startsWith('.') ? rule.host.slice(1) : rule.host.replace(/^\*\./, '')
    return host === suffix || host.endsWith(`.${suffix}`)
  })
}
