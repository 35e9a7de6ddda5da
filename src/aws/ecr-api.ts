// The ECR control plane a promotion asks before it writes: a destination repository's tag
// mutability, its creation (directly or by a creation template on push), and a source image's scan
// findings. Each call goes through AwsSession.withEcrApi (the run's credentials, retried throttling).
import type { AwsSession, EcrRegistry } from './session.js'

export type TagMutability = 'MUTABLE' | 'IMMUTABLE' | 'IMMUTABLE_WITH_EXCLUSION' | 'MUTABLE_WITH_EXCLUSION'

export interface RepositorySettings {
  tagMutability: TagMutability
  /** WILDCARD filters: tags they match are the exception to the mutability. */
  exclusionFilters: string[]
}

/** An AWS error's name (RepositoryNotFoundException, AccessDeniedException, ...). */
export function awsErrorName(error: unknown): string {
  return (error as { name?: string })?.name ?? 'Error'
}

/** AWS's refusal of an action to this identity (a missing IAM permission). */
export function isAccessDenied(error: unknown): boolean {
  const name = awsErrorName(error)
  return name === 'AccessDeniedException' || name === 'AccessDenied'
}

/** The repository's settings; undefined when it does not exist. Other errors are thrown. */
export async function describeRepository(
  aws: AwsSession,
  registry: EcrRegistry,
  repositoryName: string
): Promise<RepositorySettings | undefined> {
  try {
    return await aws.withEcrApi(registry, async (client, sdk) => {
      const output = await client.send(
        new sdk.DescribeRepositoriesCommand({
          registryId: registry.accountId,
          repositoryNames: [repositoryName]
        })
      )
      const repository = output.repositories?.[0]
      return {
        tagMutability: (repository?.imageTagMutability ?? 'MUTABLE') as TagMutability,
        exclusionFilters: (repository?.imageTagMutabilityExclusionFilters ?? [])
          .map((f) => f.filter ?? '')
          .filter(Boolean)
      }
    })
  } catch (error) {
    if (awsErrorName(error) === 'RepositoryNotFoundException') return undefined
    throw error
  }
}

/**
 * The creation template that ECR applies when an image is pushed to `repositoryName` (the longest
 * matching prefix, else ROOT), or undefined when none is applied on push.
 */
export async function findCreateOnPushTemplate(
  aws: AwsSession,
  registry: EcrRegistry,
  repositoryName: string
): Promise<{ prefix: string; settings: RepositorySettings } | undefined> {
  const templates = await aws.withEcrApi(registry, async (client, sdk) => {
    const all: {
      prefix?: string
      appliedFor?: string[]
      imageTagMutability?: string
      imageTagMutabilityExclusionFilters?: { filter?: string }[]
    }[] = []
    let nextToken: string | undefined
    do {
      const output = await client.send(
        new sdk.DescribeRepositoryCreationTemplatesCommand({ nextToken, maxResults: 100 })
      )
      all.push(...(output.repositoryCreationTemplates ?? []))
      nextToken = output.nextToken
    } while (nextToken)
    return all
  })
  const matching = templates
    // A prefix is a namespace: `prod` covers `prod/api`, never `production-api`.
    .filter(
      (t) =>
        t.prefix && (t.prefix === 'ROOT' || repositoryName.startsWith(`${t.prefix.replace(/\/+$/, '')}/`))
    )
    .sort((a, b) => rank(b.prefix!) - rank(a.prefix!))
  // ECR applies the most specific template only; it creates on push only if that one says so.
  const chosen = matching[0]
  if (!chosen?.appliedFor?.includes('CREATE_ON_PUSH')) return undefined
  return {
    prefix: chosen.prefix!,
    settings: {
      tagMutability: (chosen.imageTagMutability ?? 'MUTABLE') as TagMutability,
      exclusionFilters: (chosen.imageTagMutabilityExclusionFilters ?? [])
        .map((f) => f.filter ?? '')
        .filter(Boolean)
    }
  }
}

/** ROOT applies when no prefix does. */
const rank = (prefix: string) => (prefix === 'ROOT' ? 0 : prefix.length)

export async function createRepository(
  aws: AwsSession,
  registry: EcrRegistry,
  repositoryName: string,
  tagMutability: TagMutability
): Promise<void> {
  await aws.withEcrApi(registry, async (client, sdk) => {
    try {
      await client.send(
        new sdk.CreateRepositoryCommand({
          registryId: registry.accountId,
          repositoryName,
          imageTagMutability: tagMutability,
          imageScanningConfiguration: { scanOnPush: true }
        })
      )
    } catch (error) {
      // Another run created it meanwhile: what we wanted.
      if (awsErrorName(error) !== 'RepositoryAlreadyExistsException') throw error
    }
  })
}

export interface Finding {
  /** The vulnerability id (CVE-…), as basic and enhanced scanning name it. */
  name: string
  severity: string
  /** The package it is in, when the scan says. */
  packageName?: string
}

export interface ScanReport {
  /** COMPLETE, ACTIVE, IN_PROGRESS, PENDING, FAILED, ... or NOT_FOUND when no scan ran. */
  status: string
  description?: string
  counts: Record<string, number>
  findings: Finding[]
}

/** Pages of findings read at most for their names (the counts cover every finding). */
const MAX_FINDING_PAGES = 20

/** One look at an image's scan: its status, counts per severity and findings (basic or enhanced). */
export async function describeScanFindings(
  aws: AwsSession,
  registry: EcrRegistry,
  repositoryName: string,
  imageDigest: string
): Promise<ScanReport> {
  try {
    return await aws.withEcrApi(registry, async (client, sdk) => {
      const report: ScanReport = { status: 'UNKNOWN', counts: {}, findings: [] }
      let nextToken: string | undefined
      let pages = 0
      do {
        pages++
        const output = await client.send(
          new sdk.DescribeImageScanFindingsCommand({
            registryId: registry.accountId,
            repositoryName,
            imageId: { imageDigest },
            maxResults: 1000,
            nextToken
          })
        )
        report.status = output.imageScanStatus?.status ?? 'UNKNOWN'
        report.description = output.imageScanStatus?.description
        const results = output.imageScanFindings
        if (results?.findingSeverityCounts) report.counts = { ...results.findingSeverityCounts }
        for (const f of results?.findings ?? []) {
          const pkg = f.attributes?.find((a) => a.key === 'package_name')?.value
          report.findings.push({ name: f.name ?? '?', severity: f.severity ?? 'UNDEFINED', packageName: pkg })
        }
        for (const f of results?.enhancedFindings ?? []) {
          const details = f.packageVulnerabilityDetails
          report.findings.push({
            name: details?.vulnerabilityId ?? f.title ?? f.findingArn ?? '?',
            severity: f.severity ?? details?.vendorSeverity ?? 'UNDEFINED',
            packageName: details?.vulnerablePackages?.[0]?.name
          })
        }
        nextToken = output.nextToken
      } while (nextToken && pages < MAX_FINDING_PAGES)
      // Counts are ECR's when it gives them; else counted from the findings read.
      if (!Object.keys(report.counts).length) {
        for (const f of report.findings) report.counts[f.severity] = (report.counts[f.severity] ?? 0) + 1
      }
      return report
    })
  } catch (error) {
    if (awsErrorName(error) === 'ScanNotFoundException')
      return { status: 'NOT_FOUND', counts: {}, findings: [] }
    throw error
  }
}
