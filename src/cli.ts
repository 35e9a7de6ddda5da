#!/usr/bin/env node
// The command-line entry (dist/cli.js): `ecr-promote SOURCE DESTINATION [options]`.
import { setFlagsFromString } from 'node:v8'
import { runCli } from './cli/main.js'

// As in the action (src/index.ts): keep undici's wasm parser on baseline code so exit is prompt.
setFlagsFromString('--liftoff-only')

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`ecr-promote: unexpected failure: ${(error as Error)?.stack ?? String(error)}\n`)
    process.exit(1)
  }
)
