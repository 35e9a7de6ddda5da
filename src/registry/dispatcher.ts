// The one HTTP connection pool for a run: keep-alive connections per origin, and HTTPS_PROXY /
// HTTP_PROXY / NO_PROXY honoured the way curl and the runner's own tools read them.
import { Agent, Dispatcher, ProxyAgent } from 'undici'

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

const AGENT_OPTIONS: Agent.Options = { keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000 }

/** A dispatcher that sends each origin directly or through the proxy its scheme calls for. */
export class ProxyAwareDispatcher extends Dispatcher {
  private readonly direct = new Agent(AGENT_OPTIONS)
  private readonly httpProxy?: ProxyAgent
  private readonly httpsProxy?: ProxyAgent
  private readonly noProxy: NoProxyRule[]

  constructor(environment: ProxyEnvironment = readProxyEnvironment()) {
    super()
    if (environment.httpProxy)
      this.httpProxy = new ProxyAgent({ ...AGENT_OPTIONS, uri: environment.httpProxy })
    if (environment.httpsProxy)
      this.httpsProxy = new ProxyAgent({ ...AGENT_OPTIONS, uri: environment.httpsProxy })
    this.noProxy = parseNoProxy(environment.noProxy)
  }

  /** Whether requests to this origin go through a proxy (for logs and tests). */
  usesProxy(origin: string | URL): boolean {
    return this.pick(new URL(origin)) !== this.direct
  }

  private pick(url: URL): Dispatcher {
    const proxy = url.protocol === 'https:' ? this.httpsProxy : this.httpProxy
    if (!proxy || bypassesProxy(url, this.noProxy)) return this.direct
    return proxy
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandlers): boolean {
    return this.pick(new URL(String(options.origin))).dispatch(options, handler)
  }

  override async close(): Promise<void> {
    await Promise.all([this.direct.close(), this.httpProxy?.close(), this.httpsProxy?.close()])
  }

  override async destroy(): Promise<void> {
    await Promise.all([this.direct.destroy(), this.httpProxy?.destroy(), this.httpsProxy?.destroy()])
  }
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
