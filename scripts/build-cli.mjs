// Builds dist/cli.js: the command line as one self-contained file that `node cli.js` runs from a plain
// download, with no node_modules and no package.json beside it. ncc bundles it (the AWS SDK included:
// its imports are eager, so there are no chunks). Its output is ESM, which Node 20 runs as CommonJS
// when no package.json says otherwise, while in this package (and its npm form) it is ESM. So its only
// module-specific constructs are rewritten to ones valid in both (process.getBuiltinModule, Node
// 20.16+), and the result is checked.
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname ?? new URL('..', import.meta.url).pathname, '..')
const out = mkdtempSync(join(tmpdir(), 'ecr-promote-cli-'))
try {
  execFileSync(
    join(root, 'node_modules', '.bin', 'ncc'),
    ['build', join(root, 'src', 'cli.ts'), '-o', out, '--minify', '--quiet'],
    {
      stdio: 'inherit'
    }
  )
  const files = readdirSync(out).filter((f) => f !== 'package.json')
  if (files.length !== 1 || files[0] !== 'index.js') {
    throw new Error(
      `the CLI bundle must be one file, got: ${files.join(', ')} (a lazy import() makes chunks)`
    )
  }
  let code = readFileSync(join(out, 'index.js'), 'utf8')
  code = code.replace(
    /import\{createRequire as (\w+)\}from"module";/,
    'const __cliUrl=process.getBuiltinModule("url").pathToFileURL(process.argv[1]??"cli.js").href;' +
      'const{createRequire:$1}=process.getBuiltinModule("module");'
  )
  code = code.replaceAll('import.meta.url', '__cliUrl')
  for (const esm of [/\bimport\{/, /\bimport\.meta\b/, /(^|[;}])export\s*[{*]/m, /\b__filename\b/]) {
    if (esm.test(code))
      throw new Error(`dist/cli.js holds module-specific syntax (${esm}): the rewrite needs updating`)
  }
  writeFileSync(join(root, 'dist', 'cli.js'), code)
  chmodSync(join(root, 'dist', 'cli.js'), 0o755)
} finally {
  rmSync(out, { recursive: true, force: true })
}
