// The AWS options (role, audience, session name and duration, region), with the rules STS applies.
import type { AwsOptions } from '../aws/session.js'
import { InputError, type Read } from './options.js'
import { parseInteger } from './option-values.js'
import { printable } from '../registry/index.js'

const ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/
const REGION = /^[a-z]{2,4}(?:-[a-z]+)+-\d+$/

export function getAwsOptions(read: Read, env: NodeJS.ProcessEnv): AwsOptions {
  const roleToAssume = read('role-to-assume').trim() || undefined
  if (roleToAssume && !ROLE_ARN.test(roleToAssume)) {
    throw new InputError(
      'role-to-assume',
      `is "${printable(roleToAssume)}"; it must be an IAM role ARN: arn:aws:iam::123456789012:role/NAME`
    )
  }
  const audience = read('audience').trim() || 'sts.amazonaws.com'
  if (/[\s,]/.test(audience))
    throw new InputError('audience', `is "${printable(audience)}"; one audience, no spaces or commas`)
  const roleSessionName = read('role-session-name').trim() || defaultSessionName(env)
  if (!SESSION_NAME.test(roleSessionName)) {
    throw new InputError(
      'role-session-name',
      `is "${printable(roleSessionName)}"; it must be 2 to 64 characters of letters, digits and + = , . @ _ -`
    )
  }
  const region = read('aws-region').trim() || undefined
  if (region && !REGION.test(region)) {
    throw new InputError(
      'aws-region',
      `is "${printable(region)}"; it must be a region name such as us-east-1`
    )
  }
  return {
    roleToAssume,
    audience,
    roleSessionName,
    roleDurationSeconds: parseInteger(read, 'role-duration-seconds', 3600, 900, 43200),
    region
  }
}

/** ecr-promote-OWNER-REPO-RUNID, trimmed to STS's alphabet and length. */
export function defaultSessionName(env: NodeJS.ProcessEnv): string {
  const repository = (env.GITHUB_REPOSITORY ?? '').replace(/\//g, '-')
  const parts = ['ecr-promote', repository, env.GITHUB_RUN_ID ?? ''].filter(Boolean)
  const name = parts.join('-').replace(/[^\w+=,.@-]/g, '-')
  // Keep the run id when trimming: it is what tells sessions apart in CloudTrail.
  if (name.length <= 64) return name
  const runId = env.GITHUB_RUN_ID ? `-${env.GITHUB_RUN_ID}` : ''
  return name.slice(0, 64 - runId.length) + runId
}
