// What the promotions of a release set share: one client per registry and side (so one token per
// registry and scope, one connection pool), one ECR login per registry, one concurrency budget, and
// one signal that ends them all when any fails.
import { setMaxListeners } from 'node:events'
import type { AwsSession } from '../aws/session.js'
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

  /**
   * Makes `checked` a barrier for `count` promotions: none goes on to write until all have passed
   * their checks (a gate refusing one image must leave no byte of the others written).
   */
  expectChecks(count: number): void {
    this.remaining = count
    this.allChecked = new Promise<void>((resolve, reject) => {
      this.release = resolve
      this.signal.addEventListener('abort', () => reject(this.signal.reason as Error), { once: true })
    })
    this.allChecked.catch(() => undefined)
    if (count <= 0) this.release?.()
  }

  /** This promotion has passed its checks (or will write nothing); resolves when all have. */
  arrive(): void {
    if (this.remaining === undefined) return
    if (--this.remaining <= 0) this.release?.()
  }

  async checked(): Promise<void> {
    this.arrive()
    await this.allChecked
  }

  private remaining?: number
  private allChecked?: Promise<void>
  private release?: () => void

  /** The set's one AWS session (one role assumption for every line), made on first use. */
  awsSession(make: () => AwsSession): AwsSession {
    return (this.aws ??= make())
  }

  private aws?: AwsSession

  /** Ends the set's work in flight (a promotion of the set has failed). */
  abort(reason: Error): void {
    this.controller.abort(reason)
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()))
  }
}
