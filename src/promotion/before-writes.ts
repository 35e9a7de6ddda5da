// Everything a promotion checks once it knows what it would write and before it writes anything: the
// gates (a trusted signature, an ECR scan), and an ECR destination's repository (it exists or is made,
// and its tag mutability lets this run's tags move). In a release set every image passes these before
// any image writes.
import type { Dispatcher } from 'undici'
import { awsSessionFor } from './access.js'
import {
  checkDigestTagMutability,
  checkTagMutability,
  ensureEcrDestination,
  readEcrDestination
} from './ecr-destination.js'
import type { DestinationRepository } from './ecr-destination.js'
import { displayReference } from './errors.js'
import type { Inputs } from './options.js'
import type { PromoteOptions, Reporter } from './promote.js'
import type { Decision, TagState } from './policy.js'
import type { TrustCopy } from './trust.js'
import { checkGates, hasGates, type GateResults } from '../gates/index.js'
import { parseEcrHost } from '../aws/hosts.js'
import { discoverAttachments, type Manifest, type RegistryClient } from '../registry/index.js'

export interface Checked {
  gates: GateResults
  repository?: DestinationRepository
}

export async function checkBeforeWrites(context: {
  inputs: Inputs
  options: PromoteOptions
  dispatcher: Dispatcher
  src: RegistryClient
  root: Manifest
  states: TagState[]
  decision: Decision
  trust?: TrustCopy
  reporter: Reporter
  signal: AbortSignal
}): Promise<Checked> {
  const { inputs, options, dispatcher, src, root, reporter, trust } = context
  const aws = () => awsSessionFor(inputs, options, dispatcher)
  const ecrDestination = parseEcrHost(inputs.destination.registry) !== undefined
  const reading = ecrDestination ? readEcrDestination(inputs, aws(), reporter) : Promise.resolve(undefined)
  reading.catch(() => undefined)
  const gating = hasGates(inputs.gates)
    ? reporter.group('Check gates', () =>
        checkGates({
          gates: inputs.gates,
          src,
          registry: inputs.source.registry,
          repository: inputs.source.repository,
          where: displayReference(inputs.source),
          root,
          // The trust chain's discovery serves the signature gate too: one look at the source.
          discovery: () =>
            trust
              ? trust.discovered
              : discoverAttachments(src, inputs.source.repository, [root.digest], {
                  concurrency: Math.min(inputs.concurrency, 16),
                  // Its own budget: blob tasks hold the set's slots while they wait for the gates.
                  maxDepth: 1
                }),
          aws,
          sigstore: options.sigstore,
          log: reporter,
          signal: context.signal
        })
      )
    : Promise.resolve({})
  const [gates, read] = await Promise.all([gating, reading])
  const write = context.decision.action === 'copy' ? context.decision.write : []
  checkTagMutability(read, inputs, root.digest, context.states, write)
  // Digest tags of the trust chain that must be merged (a .sig holding other signatures) cannot be
  // where tags are immutable: refuse now, not after the copy. Asked only when some tags are.
  if (trust && read?.settings && read.settings.tagMutability !== 'MUTABLE') {
    const { plan } = await trust.planned
    checkDigestTagMutability(read, inputs, plan)
  }
  // A release set: no image writes (creates a repository, copies a blob) until every image passed.
  await options.shared?.checked()
  const repository = await ensureEcrDestination(read, inputs, aws(), reporter)
  return { gates, repository }
}
