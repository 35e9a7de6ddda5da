// The command line: flags, the environment, precedence, and messages that name the flag.
import { describe, expect, test } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { envName, parseCommandLine, UsageError } from '../../src/cli/args.js'
import { VERSION } from '../../src/cli/help.js'
import { getInputs } from '../../src/promotion/options.js'

const SRC = '127.0.0.1:5000/app:1.4.2'
const DST = 'docker.io/acme/app'
const parse = (argv: string[], env: Record<string, string> = {}) => parseCommandLine(argv, env)
const inputs = (argv: string[], env: Record<string, string> = {}) => getInputs(parse(argv, env).read, env)

describe('parseCommandLine', () => {
  test('SOURCE DESTINATION and the defaults the action has', () => {
    const i = inputs([SRC, DST])
    expect(i.source).toMatchObject({ registry: '127.0.0.1:5000', repository: 'app', tag: '1.4.2' })
    expect(i.destination).toMatchObject({ registry: 'registry-1.docker.io', repository: 'acme/app' })
    expect(i).toMatchObject({
      tags: ['1.4.2'],
      floatingTags: [],
      ifExists: 'fail',
      dryRun: false,
      concurrency: 16
    })
  })

  test.each([
    [['--tags', '1.4.2,1.4'], { tags: ['1.4.2', '1.4'] }],
    [['--tags=1.4.2', '--tags', '1.4'], { tags: ['1.4.2', '1.4'] }],
    [['--floating-tags', 'latest'], { floatingTags: ['latest'] }],
    [['--if-exists', 'skip'], { ifExists: 'skip' }],
    [['--if-exists=overwrite'], { ifExists: 'overwrite' }],
    [['--dry-run'], { dryRun: true }],
    [['--dry-run=false'], { dryRun: false }],
    [['--concurrency', '4'], { concurrency: 4 }],
    [['--source-username', 'reader'], { sourceCredentials: undefined }]
  ])('%j', (flags, expected) => {
    if ('sourceCredentials' in expected) {
      expect(() => inputs([SRC, DST, ...flags])).toThrow(/source-password/)
      return
    }
    expect(inputs([SRC, DST, ...flags])).toMatchObject(expected)
  })

  test.each([
    [
      'role-to-assume',
      'arn:aws:iam::123456789012:role/promoter',
      (i: ReturnType<typeof inputs>) => i.aws.roleToAssume
    ],
    ['role-session-name', 'jenkins-42', (i: ReturnType<typeof inputs>) => i.aws.roleSessionName],
    ['role-duration-seconds', '900', (i: ReturnType<typeof inputs>) => i.aws.roleDurationSeconds],
    ['aws-region', 'eu-west-1', (i: ReturnType<typeof inputs>) => i.aws.region],
    ['audience', 'sts.example', (i: ReturnType<typeof inputs>) => i.aws.audience]
  ])('--%s, and %s from the environment', (name, value, pick) => {
    const expected = name === 'role-duration-seconds' ? Number(value) : value
    expect(pick(inputs([SRC, DST, `--${name}`, value]))).toEqual(expected)
    expect(pick(inputs([SRC, DST], { [envName(name)]: value }))).toEqual(expected)
  })

  test('every option comes from the environment too, and a flag wins', () => {
    const env = { ECR_PROMOTE_IF_EXISTS: 'skip', ECR_PROMOTE_TAGS: 'a,b', ECR_PROMOTE_DRY_RUN: 'true' }
    expect(inputs([SRC, DST], env)).toMatchObject({ ifExists: 'skip', tags: ['a', 'b'], dryRun: true })
    expect(inputs([SRC, DST, '--if-exists', 'overwrite'], env).ifExists).toBe('overwrite')
    expect(inputs([], { ...env, ECR_PROMOTE_SOURCE: SRC, ECR_PROMOTE_DESTINATION: DST }).source.tag).toBe(
      '1.4.2'
    )
  })

  test('passwords come from the environment', () => {
    const i = inputs([SRC, DST, '--destination-username', 'acme'], {
      ECR_PROMOTE_DESTINATION_PASSWORD: 'dckr_pat_x'
    })
    expect(i.destinationCredentials).toEqual({ username: 'acme', password: 'dckr_pat_x' })
  })

  test.each([
    [
      ['--destination-password', 'x'],
      /--destination-password is not accepted.*ECR_PROMOTE_DESTINATION_PASSWORD.*--destination-password-stdin/
    ],
    [['--source-password=x'], /--source-password is not accepted/],
    [['--if-exist', 'skip'], /unknown option --if-exist; did you mean --if-exists\?/],
    [['--tags'], /--tags needs a value/],
    [['-x'], /unknown option -x/],
    [['a', 'b', 'c'], /too many arguments \(3\)/],
    [['--output', 'yaml'], /--output is "yaml"; allowed: text, json/],
    [['--source-password-stdin', '--destination-password-stdin'], /standard input holds one password/]
  ])('%j is a usage error naming the flag', (argv, message) => {
    expect(() => parse(argv.length > 2 && !argv[0].startsWith('-') ? argv : [SRC, DST, ...argv])).toThrow(
      UsageError
    )
    expect(() => parse(argv.length > 2 && !argv[0].startsWith('-') ? argv : [SRC, DST, ...argv])).toThrow(
      message
    )
  })

  test("a bad value is the options model's error, in the flag's name", async () => {
    const { InputError } = await import('../../src/promotion/options.js')
    const error = (() => {
      try {
        inputs([SRC, DST, '--dry-run=maybe'])
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(InputError)
    expect((error as InstanceType<typeof InputError>).labelled((n) => `--${n}`)).toBe(
      '--dry-run is "maybe"; allowed: true, false'
    )
  })

  test('command flags: output, dotenv, results dir, token sources, help, version', () => {
    const c = parse([
      SRC,
      DST,
      '--output',
      'json',
      '--dotenv',
      'out.env',
      '--results-dir',
      '/r',
      '--web-identity-token-env',
      'CI_JOB_JWT'
    ])
    expect(c).toMatchObject({
      output: 'json',
      dotenv: 'out.env',
      resultsDir: '/r',
      webIdentityTokenEnv: 'CI_JOB_JWT'
    })
    expect(parse(['--help']).help).toBe(true)
    expect(parse(['-h']).help).toBe(true)
    expect(parse(['--version']).version).toBe(true)
    expect(parse([SRC, DST, '--destination-password-stdin']).passwordFromStdin).toBe('destination-password')
  })

  test('the version is the package version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string
    }
    expect(VERSION).toBe(pkg.version)
  })
})

describe('the npm package', () => {
  test('its bin is the committed single-file CLI, which the package ships', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      bin: Record<string, string>
      files: string[]
      private?: boolean
    }
    expect(pkg.bin).toEqual({ 'ecr-promote': 'dist/cli.js' })
    expect(pkg.files).toContain('dist/')
    expect(pkg.private).toBeUndefined()
    const cli = readFileSync(new URL('../../dist/cli.js', import.meta.url), 'utf8')
    expect(cli.startsWith('#!/usr/bin/env node\n')).toBe(true)
  })
})
