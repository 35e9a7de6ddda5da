// ECR registries, recognised by host name in every AWS partition.

export interface EcrRegistry {
  accountId: string
  region: string
  fips: boolean
  dualStack: boolean
}

// ACCOUNT.dkr.ecr[-fips].REGION.SUFFIX for every partition AWS documents: aws (amazonaws.com), China
// (amazonaws.com.cn), the European Sovereign Cloud (amazonaws.eu) and the isolated ones (c2s.ic.gov,
// sc2s.sgov.gov, cloud.adc-e.uk, csp.hci.ic.gov); and the dual-stack
// ACCOUNT.dkr-ecr[-fips].REGION.on.aws / .on.amazonwebservices.com.cn.
const REGION_PART = '([a-z]{2,4}(?:-[a-z]+)+-\\d+)'
const ECR_HOST = new RegExp(
  `^(\\d{12})\\.dkr\\.ecr(-fips)?\\.${REGION_PART}\\.(?:amazonaws\\.com(?:\\.cn)?|amazonaws\\.eu|c2s\\.ic\\.gov|sc2s\\.sgov\\.gov|cloud\\.adc-e\\.uk|csp\\.hci\\.ic\\.gov)$`
)
const ECR_DUALSTACK_HOST = new RegExp(
  `^(\\d{12})\\.dkr-ecr(-fips)?\\.${REGION_PART}\\.(?:on\\.aws|on\\.amazonwebservices\\.com\\.cn)$`
)

export function parseEcrHost(registry: string): EcrRegistry | undefined {
  const host = registry.toLowerCase().replace(/:443$/, '')
  const ipv4 = ECR_HOST.exec(host)
  if (ipv4) return { accountId: ipv4[1], region: ipv4[3], fips: !!ipv4[2], dualStack: false }
  const dual = ECR_DUALSTACK_HOST.exec(host)
  if (dual) return { accountId: dual[1], region: dual[3], fips: !!dual[2], dualStack: true }
  return undefined
}

/** ECR Public (public.ecr.aws/ALIAS/NAME): its logins are served in us-east-1 only. */
export const ECR_PUBLIC_HOST = 'public.ecr.aws'
export const ECR_PUBLIC_REGION = 'us-east-1'

export function isEcrPublicHost(registry: string): boolean {
  return registry.toLowerCase().replace(/:443$/, '') === ECR_PUBLIC_HOST
}
