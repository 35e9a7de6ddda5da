// An AWS SDK request handler on the run's undici dispatcher, so that STS and ECR calls go through
// the same proxy settings, CA trust and keep-alive pool as registry traffic.
import type { HttpHandlerOptions, HttpRequest, HttpResponse, QueryParameterBag } from '@smithy/types'
import { request, type Dispatcher } from 'undici'
import {
  isAbort,
  toNetworkError,
  DEFAULT_NETWORK,
  type NetworkOptions,
  type RouteDescriber
} from '../registry/index.js'

export class UndiciRequestHandler {
  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly timeoutMs = 30_000
  ) {}

  async handle(
    sdkRequest: HttpRequest,
    options: HttpHandlerOptions = {}
  ): Promise<{ response: HttpResponse }> {
    const port = sdkRequest.port ? `:${sdkRequest.port}` : ''
    const query = buildQuery(sdkRequest.query ?? {})
    const url = `${sdkRequest.protocol}//${sdkRequest.hostname}${port}${sdkRequest.path}${query ? `?${query}` : ''}`
    const headers = { ...sdkRequest.headers }
    // undici computes these itself and refuses a caller-set host header.
    delete headers.host
    delete headers.Host
    let response: Dispatcher.ResponseData
    try {
      response = await request(url, {
        method: sdkRequest.method as Dispatcher.HttpMethod,
        headers,
        body: sdkRequest.body as Dispatcher.DispatchOptions['body'],
        dispatcher: this.dispatcher,
        signal: options.abortSignal as AbortSignal | undefined,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs
      })
    } catch (error) {
      if (isAbort(error)) throw error
      // The same words as registry traffic: the host, the proxy, what happened.
      const network: NetworkOptions = {
        ...((this.dispatcher as { network?: NetworkOptions }).network ?? DEFAULT_NETWORK),
        responseTimeoutMs: this.timeoutMs,
        idleTimeoutMs: this.timeoutMs
      }
      throw toNetworkError(
        `AWS ${sdkRequest.hostname}`,
        sdkRequest.method,
        new URL(url),
        error,
        this.dispatcher as RouteDescriber,
        network
      )
    }
    const flat: Record<string, string> = {}
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value
    }
    return { response: { statusCode: response.statusCode, headers: flat, body: response.body } }
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {}
  }

  destroy(): void {}
}

/** Query strings as SigV4 signs them: RFC 3986 escaping, keys sorted as the SDK sends them. */
function buildQuery(query: QueryParameterBag): string {
  const escape = (value: string): string =>
    encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  const parts: string[] = []
  for (const key of Object.keys(query).sort()) {
    const value = query[key]
    if (value === null || value === undefined) parts.push(escape(key))
    else for (const v of Array.isArray(value) ? value : [value]) parts.push(`${escape(key)}=${escape(v)}`)
  }
  return parts.join('&')
}
