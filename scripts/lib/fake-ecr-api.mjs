// The ECR control-plane operations of the fake AWS (fake-aws.mjs): repositories and their tag
// mutability, repository creation templates, image scan findings, and permission denials. JSON 1.1
// as ECR speaks it (x-amz-target AmazonEC2ContainerRegistry_V20150921.<Op>, `__type` errors with
// status 400, timestamps as epoch seconds), so the real @aws-sdk/client-ecr talks to it unchanged.

/**
 * @typedef {'MUTABLE' | 'IMMUTABLE' | 'IMMUTABLE_WITH_EXCLUSION' | 'MUTABLE_WITH_EXCLUSION'} TagMutability
 * @typedef {{ filterType: 'WILDCARD', filter: string }} ExclusionFilter
 * @typedef {{
 *   imageTagMutability: TagMutability,
 *   imageTagMutabilityExclusionFilters?: ExclusionFilter[],
 *   imageScanningConfiguration?: { scanOnPush: boolean },
 *   createdAt?: number
 * }} RepositorySettings
 * @typedef {{
 *   prefix: string,
 *   appliedFor: ('CREATE_ON_PUSH' | 'PULL_THROUGH_CACHE' | 'REPLICATION')[],
 *   imageTagMutability?: TagMutability,
 *   imageTagMutabilityExclusionFilters?: ExclusionFilter[],
 *   description?: string,
 *   createdAt?: number,
 *   updatedAt?: number
 * }} CreationTemplate
 * @typedef {{ error: 'ScanNotFoundException' | 'ImageNotFoundException' | 'AccessDeniedException' | string, message?: string }} ScanError
 * @typedef {{ imageScanStatus: { status: string, description?: string }, imageScanFindings?: Record<string, any>, [field: string]: unknown }} ScanBody
 * @typedef {ScanError | ScanBody} ScanAnswer
 * @typedef {[id: string, severity: string, packageName?: string, packageVersion?: string]} FindingSpec
 */

export const ECR_TARGET = 'AmazonEC2ContainerRegistry_V20150921.'
/** The page size of DescribeImageScanFindings when the caller sends no maxResults (as ECR). */
export const DEFAULT_MAX_RESULTS = 100

/** The fields this module adds to the fake's `state` (fake-aws.mjs spreads them in). */
export function ecrApiState() {
  return {
    /**
     * The ECR repositories that exist, by name ('release/app'): DescribeRepositories answers them,
     * any other name is RepositoryNotFoundException; CreateRepository adds to it.
     * @type {Map<string, RepositorySettings>}
     */
    repositories: new Map(),
    /** Every DescribeRepositories request body, in order. @type {any[]} */
    repositoryCalls: [],
    /** Every CreateRepository request body, in order (also the refused ones). @type {any[]} */
    createCalls: [],
    /** Repository creation templates: DescribeRepositoryCreationTemplates answers them. @type {CreationTemplate[]} */
    templates: [],
    /** Every DescribeRepositoryCreationTemplates request body, in order. @type {any[]} */
    templateCalls: [],
    /**
     * Scan answers by `${repositoryName}@${digest}`: each DescribeImageScanFindings call without a
     * nextToken takes the next answer, the last one repeats (['IN_PROGRESS', 'IN_PROGRESS', done]
     * finishes on the third call). An answer is a ScanError or a response body (see basicScan,
     * enhancedScan, scanStatus); a digest with no entry answers ScanNotFoundException.
     * @type {Map<string, ScanAnswer[]>}
     */
    scans: new Map(),
    /**
     * Every DescribeImageScanFindings call: the key, when (ms since the epoch), the nextToken it
     * paged with (undefined for a first page) and which answer it got (index into its array).
     * @type {{ key: string, time: number, nextToken?: string, answer?: number }[]}
     */
    scanCalls: [],
    /** ECR operation names ('DescribeImageScanFindings', ...) answered 400 AccessDeniedException. @type {Set<string>} */
    denied: new Set()
  }
}

const SCAN_DESCRIPTIONS = {
  COMPLETE: 'The scan was completed successfully.',
  ACTIVE: 'Continuous scan is selected for image.',
  IN_PROGRESS: 'Scan in progress.',
  PENDING: 'Scan pending.',
  FAILED: 'Scan failed.',
  UNSUPPORTED_IMAGE: 'UnsupportedImageError: The operating system and/or package manager are not supported.',
  SCAN_ELIGIBILITY_EXPIRED: 'The scan eligibility for this image has expired.',
  FINDINGS_UNAVAILABLE: 'Findings are unavailable for this image.'
}
const now = () => Math.floor(Date.now() / 1000)

/** An answer with only a status (IN_PROGRESS, PENDING, FAILED, UNSUPPORTED_IMAGE, ...) and no findings. */
export function scanStatus(status, description = SCAN_DESCRIPTIONS[status] ?? status) {
  return { imageScanStatus: { status, description } }
}

/** An error answer: ScanNotFoundException, ImageNotFoundException, AccessDeniedException (message: the fake's default). */
export function scanError(error, message) {
  return message ? { error, message } : { error }
}

const countsOf = (findings) => {
  const counts = {}
  for (const [, severity] of findings) counts[severity] = (counts[severity] ?? 0) + 1
  return counts
}

/**
 * A finished basic scan (status COMPLETE): `counts` as findingSeverityCounts (undefined: counted from
 * the findings), `findings` as [id, severity, package?, version?].
 * @param {Record<string, number> | undefined} counts @param {FindingSpec[]} [findings]
 */
export function basicScan(counts, findings = []) {
  const at = now()
  return {
    imageScanStatus: { status: 'COMPLETE', description: SCAN_DESCRIPTIONS.COMPLETE },
    imageScanFindings: {
      imageScanCompletedAt: at - 60,
      vulnerabilitySourceUpdatedAt: at - 3600,
      findingSeverityCounts: counts ?? countsOf(findings),
      findings: findings.map(([name, severity, pkg = 'openssl', version = '3.0.1']) => ({
        name,
        description: `${name} in ${pkg} ${version}.`,
        uri: `https://security-tracker.debian.org/tracker/${name}`,
        severity,
        attributes: [
          { key: 'package_version', value: version },
          { key: 'package_name', value: pkg },
          { key: 'CVSS3_SCORE', value: '7.5' }
        ]
      }))
    }
  }
}

/**
 * An enhanced (Amazon Inspector) scan: status ACTIVE, `enhancedFindings` as Inspector reports them.
 * @param {Record<string, number> | undefined} counts @param {FindingSpec[]} [findings]
 */
export function enhancedScan(counts, findings = [], { account = '123456789012', repository = 'app' } = {}) {
  const at = now()
  return {
    imageScanStatus: { status: 'ACTIVE', description: SCAN_DESCRIPTIONS.ACTIVE },
    imageScanFindings: {
      imageScanCompletedAt: at - 60,
      vulnerabilitySourceUpdatedAt: at - 3600,
      findingSeverityCounts: counts ?? countsOf(findings),
      enhancedFindings: findings.map(([id, severity, pkg = 'libxml2', version = '2.9.1'], i) => ({
        awsAccountId: account,
        description: `${id}: a flaw in ${pkg} before ${version}-fixed.`,
        findingArn: `arn:aws:inspector2:us-east-1:${account}:finding/${(i + 1).toString(16).padStart(32, '0')}`,
        firstObservedAt: at - 86400,
        lastObservedAt: at - 60,
        packageVulnerabilityDetails: {
          cvss: [
            {
              baseScore: 8.1,
              scoringVector: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H',
              source: 'NVD',
              version: '3.1'
            }
          ],
          referenceUrls: [`https://nvd.nist.gov/vuln/detail/${id}`],
          relatedVulnerabilities: [],
          source: 'NVD',
          sourceUrl: `https://nvd.nist.gov/vuln/detail/${id}`,
          vendorCreatedAt: at - 30 * 86400,
          vendorSeverity: severity,
          vendorUpdatedAt: at - 86400,
          vulnerabilityId: id,
          vulnerablePackages: [
            { name: pkg, version, arch: 'X86_64', packageManager: 'OS', fixedInVersion: `${version}-fixed` }
          ]
        },
        remediation: { recommendation: { text: `Upgrade ${pkg} to ${version}-fixed or later.` } },
        resources: [
          {
            id: `arn:aws:ecr:us-east-1:${account}:repository/${repository}`,
            type: 'AWS_ECR_CONTAINER_IMAGE',
            details: { awsEcrContainerImage: { architecture: 'amd64', repositoryName: repository } }
          }
        ],
        score: 8.1,
        scoreDetails: { cvss: { score: 8.1, scoreSource: 'NVD', version: '3.1', adjustments: [] } },
        severity,
        status: 'ACTIVE',
        title: `${id} - ${pkg}`,
        type: 'PACKAGE_VULNERABILITY',
        updatedAt: at - 60
      }))
    }
  }
}

/** Does an ECR WILDCARD filter (`*` any run of characters) match the tag? */
export function wildcardMatches(filter, tag) {
  const pattern = filter.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')
  return new RegExp(`^${pattern}$`).test(tag)
}

/**
 * The handler of the operations above for one fake: `(op, keyId, input)` -> { status, body } or
 * undefined when the operation is not one of them and not denied (fake-aws.mjs answers it).
 * Unknown credentials are UnrecognizedClientException, as for GetAuthorizationToken.
 * @param {{ state: ReturnType<typeof ecrApiState> & { issuedKeys: Set<string>, stsCalls: { sessionName: string | null }[] }, account: string, host: string }} fake
 */
export function createEcrApi({ state, account, host }) {
  const region = /\.dkr\.ecr\.([^.]+)\./.exec(host)?.[1] ?? 'us-east-1'
  const arnOf = (name) => `arn:aws:ecr:${region}:${account}:repository/${name}`
  /** Which answer of state.scans each key is at. */
  const cursors = new Map()
  const ok = (body) => ({ status: 200, body })
  const fail = (type, message) => ({ status: 400, body: { __type: type, message } })
  const denial = (op, resource) => {
    const session = state.stsCalls.at(-1)?.sessionName ?? 'x'
    return fail(
      'AccessDeniedException',
      `User: arn:aws:sts::${account}:assumed-role/promoter/${session} is not authorized to perform: ecr:${op} on resource: ${resource} because no identity-based policy allows the ecr:${op} action`
    )
  }
  const repositoryOf = (name, settings) => ({
    repositoryArn: arnOf(name),
    registryId: account,
    repositoryName: name,
    repositoryUri: `${host}/${name}`,
    createdAt: settings.createdAt ?? 1767225600,
    imageTagMutability: settings.imageTagMutability ?? 'MUTABLE',
    ...(settings.imageTagMutabilityExclusionFilters
      ? { imageTagMutabilityExclusionFilters: settings.imageTagMutabilityExclusionFilters }
      : {}),
    imageScanningConfiguration: settings.imageScanningConfiguration ?? { scanOnPush: false },
    encryptionConfiguration: { encryptionType: 'AES256' }
  })
  const notFound = (name) =>
    fail(
      'RepositoryNotFoundException',
      `The repository with name '${name}' does not exist in the registry with id '${account}'`
    )

  const operations = {
    DescribeRepositories(input) {
      const names = input.repositoryNames ?? [...state.repositories.keys()]
      for (const name of names) if (!state.repositories.has(name)) return notFound(name)
      return ok({ repositories: names.map((name) => repositoryOf(name, state.repositories.get(name))) })
    },
    CreateRepository(input) {
      const name = input.repositoryName
      if (state.repositories.has(name))
        return fail(
          'RepositoryAlreadyExistsException',
          `The repository with name '${name}' already exists in the registry with id '${account}'`
        )
      const settings = {
        imageTagMutability: input.imageTagMutability ?? 'MUTABLE',
        ...(input.imageTagMutabilityExclusionFilters
          ? { imageTagMutabilityExclusionFilters: input.imageTagMutabilityExclusionFilters }
          : {}),
        imageScanningConfiguration: input.imageScanningConfiguration ?? { scanOnPush: false },
        createdAt: Math.floor(Date.now() / 1000)
      }
      state.repositories.set(name, settings)
      return ok({ repository: repositoryOf(name, settings) })
    },
    DescribeRepositoryCreationTemplates(input) {
      const prefixes = input.prefixes
      const chosen = prefixes?.length
        ? state.templates.filter((t) => prefixes.includes(t.prefix))
        : state.templates
      return ok({
        registryId: account,
        repositoryCreationTemplates: chosen.map((t) => ({
          createdAt: 1767225600,
          updatedAt: 1767225600,
          imageTagMutability: 'MUTABLE',
          ...t
        }))
      })
    },
    DescribeImageScanFindings(input, call) {
      const { key } = call
      const digest = input.imageId?.imageDigest ?? input.imageId?.imageTag
      const max = input.maxResults ?? DEFAULT_MAX_RESULTS
      if (!Number.isInteger(max) || max < 1 || max > 1000)
        return fail(
          'ValidationException',
          `1 validation error detected: Value '${max}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1000`
        )
      const answers = state.scans.get(key) ?? [{ error: 'ScanNotFoundException' }]
      let index
      let offset = 0
      if (input.nextToken) {
        let token
        try {
          token = JSON.parse(Buffer.from(input.nextToken, 'base64url').toString('utf8'))
        } catch {
          token = undefined
        }
        if (token?.key !== key || !answers[token.answer])
          return fail('InvalidParameterException', 'Invalid parameter at nextToken: the token is not valid')
        index = token.answer
        offset = token.offset
      } else {
        index = Math.min(cursors.get(key) ?? 0, answers.length - 1)
        cursors.set(key, index + 1)
      }
      call.answer = index
      const answer = answers[index]
      const id = `{imageDigest:'${digest}', imageTag:'null'}`
      const where = `in the repository with name '${input.repositoryName}' in the registry with id '${account}'`
      if ('error' in answer) {
        if (answer.error === 'AccessDeniedException')
          return answer.message
            ? fail(answer.error, answer.message)
            : denial('DescribeImageScanFindings', arnOf(input.repositoryName))
        const message =
          answer.message ??
          (answer.error === 'ScanNotFoundException'
            ? `Image scan does not exist for the image with '${id}' ${where}`
            : answer.error === 'ImageNotFoundException'
              ? `The image with imageId ${id} does not exist within the repository with name '${input.repositoryName}' in the registry with id '${account}'`
              : `${answer.error} for ${id} ${where}`)
        return fail(answer.error, message)
      }
      const body = {
        registryId: account,
        repositoryName: input.repositoryName,
        imageId: { imageDigest: digest },
        ...answer
      }
      const findings = answer.imageScanFindings
      if (findings) {
        const total = Math.max(findings.findings?.length ?? 0, findings.enhancedFindings?.length ?? 0)
        const page = { ...findings }
        for (const list of ['findings', 'enhancedFindings'])
          if (findings[list]) page[list] = findings[list].slice(offset, offset + max)
        body.imageScanFindings = page
        if (offset + max < total)
          body.nextToken = Buffer.from(JSON.stringify({ key, answer: index, offset: offset + max })).toString(
            'base64url'
          )
      }
      return ok(body)
    }
  }

  /** What each call leaves in the state, whether or not it is answered. */
  const record = {
    DescribeRepositories: (input) => state.repositoryCalls.push(input),
    CreateRepository: (input) => state.createCalls.push(input),
    DescribeRepositoryCreationTemplates: (input) => state.templateCalls.push(input),
    DescribeImageScanFindings: (input) => {
      const digest = input.imageId?.imageDigest ?? input.imageId?.imageTag
      const call = {
        key: `${input.repositoryName}@${digest}`,
        time: Date.now(),
        ...(input.nextToken ? { nextToken: input.nextToken } : {})
      }
      state.scanCalls.push(call)
      return call
    }
  }

  return (op, keyId, input) => {
    const handler = operations[op]
    if (!handler && !state.denied.has(op)) return undefined
    const call = record[op]?.(input)
    if (!keyId || !state.issuedKeys.has(keyId))
      return fail('UnrecognizedClientException', 'The security token included in the request is invalid.')
    if (state.denied.has(op)) {
      const names = input.repositoryName ? [input.repositoryName] : (input.repositoryNames ?? [])
      return denial(
        op,
        names.length === 1 ? arnOf(names[0]) : `arn:aws:ecr:${region}:${account}:repository/*`
      )
    }
    return handler(input, call)
  }
}
