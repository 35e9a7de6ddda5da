// What the promotions of a release set share: one client per registry and side (so one token per
// registry and scope, one connection pool), one ECR login per registry, one concurrency budget, and
// one signal that ends them all when any fails.
import { setMaxListeners } from 'node:events'
import {
  createLimiter,
  type Credentials,
  type Limiter,
  type Reference,
  type RegistryClient
} from '../registry/index.js'

export class SharedSession {
  private readonly clients = new Map<string, RegistryClient>()
  private readonly logins = new Map<string, Promise<Credentials | undefined>>()
  private readonly controller = new AbortController()
  /** Transfers at once across the whole set. */
  readonly limiter: Limiter

  constructor(concurrency: number, outer?: AbortSignal) {
    this.limiter = createLimiter(concurrency)
    this.signal = outer ? AbortSignal.any([outer, this.controller.signal]) : this.controller.signal
    setMaxListeners(0, this.controller.signal, this.signal)
  }

  readonly signal: AbortSignal

  /** The client for this side of this registry, made once. */
  client(
    side: 'source' | 'destination',
    ref: Reference,
    credentials: Credentials | undefined,
    make: () => RegistryClient
  ): RegistryClient {
    const key = `${side} ${ref.scheme ?? 'https'}://${ref.registry} ${credentials?.username ?? ''}`
    let client = this.clients.get(key)
    if (!client) this.clients.set(key, (client = make()))
    return client
  }

  /** An ECR login for this registry host, asked once for the set. */
  login(registry: string, log: () => Promise<Credentials | undefined>): Promise<Credentials | undefined> {
    let pending = this.logins.get(registry)
    if (!pending) this.logins.set(registry, (pending = log()))
    return pending
  }

  /** Ends the set's work in flight (a promotion of the set has failed). */
  abort(reason: Error): void {
    this.controller.abort(reason)
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()))
  }
}
