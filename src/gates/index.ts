// The gates a promotion passes before anything is written: a trusted signature on the source's
// digest, and an ECR scan with nothing at or above a severity. Both run at once; each refusal says
// what was found and that nothing was written.
import type { AwsSession } from '../aws/session.js'
import { parseEcrHost } from '../aws/hosts.js'
import { failureKind, PromotionError } from '../promotion/errors.js'
import { describeKey } from './keys.js'
import type { Gates } from './options.js'
import { checkScan, formatCounts, scanTargets, type ScanVerdict } from './scan.js'
import { checkSignature, GateRefusal, type SigstoreLoader, type SignatureVerdict } from './signature.js'
import type { Discovery, Logger, Manifest, RegistryClient } from '../registry/index.js'

export type { Gates } from './options.js'
export type { SigstoreLoader } from './signature.js'

export interface GateResults {
  signature?: SignatureVerdict
  scan?: ScanVerdict
}

export interface GateContext {
  gates: Gates
  src: RegistryClient
  /** The source's registry host and repository. */
  registry: string
  repository: string
  /** The source as users wrote it. */
  where: string
  root: Manifest
  /** What refers to the root at the source (shared with the copy of the trust chain). */
  discovery: () => Promise<Discovery>
  aws: () => AwsSession
  sigstore?: SigstoreLoader
  log: Logger
  signal?: AbortSignal
}

export function hasGates(gates: Gates): boolean {
  return Boolean(gates.signature || gates.scan)
}

export async function checkGates(context: GateContext): Promise<GateResults> {
  const { gates, log } = context
  const [signature, scan] = await Promise.all([
    gates.signature &&
      refuseAs('signature gate', async () => {
        const verdict = await checkSignature(
          context.src,
          context.repository,
          context.root,
          gates.signature!,
          context.discovery,
          context.sigstore
        )
        log.info(
          `signature gate passed: ${context.root.digest} is signed by ${describeKey(verdict.key)} (${verdict.via})`
        )
        return verdict
      }),
    gates.scan &&
      refuseAs('scan gate', async () => {
        const registry = parseEcrHost(context.registry)
        if (!registry)
          throw new GateRefusal(`${context.where} is not in ECR, which is where scan findings come from`)
        const verdict = await checkScan(
          {
            aws: context.aws(),
            registry,
            repository: context.repository,
            where: context.where,
            log,
            signal: context.signal
          },
          scanTargets(context.root),
          gates.scan!
        )
        log.info(
          `scan gate passed: nothing at or above ${gates.scan!.severity} in ${verdict.images.length} image(s) (${formatCounts(verdict.counts)})`
        )
        return verdict
      })
  ])
  return { signature: signature || undefined, scan: scan || undefined }
}

async function refuseAs<T>(gate: string, check: () => Promise<T>): Promise<T> {
  try {
    return await check()
  } catch (error) {
    if (error instanceof GateRefusal) {
      // A refused DescribeImageScanFindings is about access (CLI exit 4), not the image.
      const kind = failureKind(error.cause) === 'access' ? 'access' : 'gate'
      throw new PromotionError(`${gate}: ${error.message}; nothing was written`, { cause: error, kind })
    }
    throw new PromotionError(`${gate}: ${(error as Error).message}; nothing was written`, { cause: error })
  }
}
