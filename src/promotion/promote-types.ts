// The promotion's shapes: what it is given (options, a reporter), what it fills as it goes
// (progress) and what it returns (a result, or a staged promotion whose tags are still to write).
import type { Dispatcher } from 'undici'
import type { AwsSdk } from '../aws/sdk.js'
import type { PlatformEntry } from './platforms.js'
import type { TagState } from './policy.js'
import type { ReferrerEntry } from './trust.js'
import type { SharedSession } from './shared.js'
import type { GateResults, SigstoreLoader } from '../gates/index.js'
import type { DestinationRepository } from './ecr-destination.js'
import {
  emptyCopyStats,
  type CopyStats,
  type Logger,
  type NetworkOptions,
  type RateLimit
} from '../registry/index.js'

export type Result = 'copied' | 'unchanged' | 'skipped'
export type TagOutcome =
  | 'written'
  | 'overwritten'
  | 'moved'
  | 'unchanged'
  | 'conflict'
  | 'not-written'
  | 'would-write'
  | 'would-overwrite'
  /** A floating tag floating-tags: auto leaves where it is (an older release was promoted). */
  | 'stays'

export interface Reporter extends Logger {
  group<T>(name: string, task: () => Promise<T>): Promise<T>
}

/** What a promotion has done so far: filled as it goes, so a failure can still be reported. */
export interface Progress {
  /** The step running now, in words ("copy content"). */
  phase: string
  digest?: string
  mediaType?: string
  states?: TagState[]
  copy: CopyStats
  /** Tags written so far, in order. */
  written: string[]
}

export type { ReferrerEntry }

export function newProgress(): Progress {
  return { phase: 'read inputs', copy: emptyCopyStats(), written: [] }
}

export interface PromoteOptions {
  reporter: Reporter
  signal?: AbortSignal
  /** Defaults to a keep-alive pool that honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY. */
  dispatcher?: Dispatcher
  onSecret?: (secret: string) => void
  /** The workflow's OIDC token for an audience (core.getIDToken in the action). */
  getIdToken?: (audience: string) => Promise<string>
  /** How the AWS SDK loads (lazySdk in the action, bundledSdk in the CLI); needed for ECR hosts. */
  sdk?: AwsSdk
  /** `other` when getIdToken reads a token given to the job (GitLab id_tokens, a token file). */
  tokenSource?: 'github' | 'other'
  /** Timeouts and retry budgets (defaults: DEFAULT_NETWORK). */
  network?: Partial<NetworkOptions>
  /** Filled as the promotion goes (the caller reads it when the promotion fails). */
  progress?: Progress
  /** A release set's clients, logins and concurrency budget, shared by its promotions. */
  shared?: SharedSession
  /** How @sigstore/verify loads (lazily in the action, bundled in the CLI); needed for bundle signatures. */
  sigstore?: SigstoreLoader
}

export interface PromoteResult {
  digest: string
  mediaType: string
  /** REGISTRY/REPO@DIGEST at the destination; empty when the run left no such image there. */
  image: string
  /** The destination repository as users write it (docker.io/acme/app). */
  repository: string
  result: Result
  dryRun: boolean
  /** Tags that point at the digest when the run ends. */
  tags: string[]
  tagOutcomes: { tag: string; floating: boolean; before?: string; outcome: TagOutcome; reason?: string }[]
  platforms: string[]
  platformEntries: PlatformEntry[]
  /** What refers to the image (signatures, SBOMs, attestations) and what this run did with each. */
  referrers: ReferrerEntry[]
  /** Whether referrers were looked for (the `referrers` input). */
  referrersChecked: boolean
  /** What the gates found (absent when none was asked for, or nothing would be written). */
  gates?: GateResults
  /** An ECR destination repository made by this run (or left to a creation template). */
  repositoryCreated?: DestinationRepository['created']
  copy?: CopyStats
  requests: { source: number; destination: number }
  /** Pull rate limits the registries announced (Docker Hub does). */
  rateLimits: { source?: RateLimit; destination?: RateLimit }
  durationMs: number
}

/** A promotion made ready: content copied, tags not yet written. */
export interface Staged {
  /** Writes the tags when any are due (nothing in a skip, an unchanged run or a dry run). */
  commit(): Promise<PromoteResult>
  /** Closes what the promotion opened; `failed` drops work still in flight. */
  close(failed: boolean): Promise<void>
  /** The tags commit will write, in order. */
  pending: string[]
  progress: Progress
}
