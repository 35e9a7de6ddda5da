import { setFlagsFromString } from 'node:v8'
import { run } from './action/main.js'

// undici parses HTTP with llhttp compiled to WebAssembly. V8 re-compiles hot wasm functions in
// background threads, and the process cannot exit until those jobs finish: ~100 ms on every run
// (measured: scripts/bench.mjs, scenario 6). The baseline (Liftoff) code parses fast enough, so keep
// it. This runs before the first connection, which is when the parser is compiled.
setFlagsFromString('--liftoff-only')

// When run() has settled, outputs, summary and exit code are all written: nothing left may hold the
// job (a socket undici opened for a request the failure made moot was seen to linger), so end here.
void run().finally(() => process.exit())
