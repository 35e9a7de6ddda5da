// Checks action.yml as GitHub reads it, with @actions/workflow-parser's action parser (the schema behind
// the runner's and the editor's checks), then the contract this project keeps: runs.using node24 with
// runs.main dist/index.js present, a description on every input and output, the inputs equal to
// INPUT_NAMES in src/promotion/options.ts (read as text), a Marketplace-length description, and
// branding from the sets GitHub documents. Prints one line per finding, `FILE:LINE: rule: what`, and
// exits 1 on any.
// Usage: node scripts/check-action.mjs [action.yml] [src/promotion/options.ts]
import { existsSync, readFileSync } from 'node:fs'
import { register } from 'node:module'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const actionPath = resolve(process.argv[2] ?? join(root, 'action.yml'))
const optionsPath = resolve(process.argv[3] ?? join(root, 'src', 'promotion', 'options.ts'))
const shown = (path) => {
  const near = relative(process.cwd(), path)
  return near && !near.startsWith('..') ? near : path
}

// The parser imports its schemas as `import schema from '../action-v1.0.min.json'`, with no
// `with { type: 'json' }`, which Node's ESM loader refuses (the package is ESM only, so createRequire
// does not help). A load hook adds the attribute to those imports; nothing else is touched.
const jsonHook = `export async function load(url, context, next) {
  if (url.endsWith('.json') && context.importAttributes?.type === undefined) {
    return next(url, { ...context, importAttributes: { ...context.importAttributes, type: 'json' } })
  }
  return next(url, context)
}`
register(`data:text/javascript,${encodeURIComponent(jsonHook)}`)
const { parseAction } = await import('@actions/workflow-parser/actions/index')
const { NoOperationTraceWriter, isMapping, isScalar } = await import('@actions/workflow-parser')

const RUNS_USING = 'node24'
const RUNS_MAIN = 'dist/index.js'
const DESCRIPTION_MAX = 125

// docs.github.com, "Metadata syntax for GitHub Actions", branding.color.
const COLORS = new Set(['white', 'black', 'yellow', 'blue', 'green', 'orange', 'red', 'purple', 'gray-dark'])
// docs.github.com, "Metadata syntax for GitHub Actions", branding.icon: Feather v4.28.0 without the
// brand icons and without coffee, columns, divide-circle, divide-square, divide, frown, hexagon, key,
// meh, mouse-pointer, smile, tool and x-octagon.
const ICONS = new Set(
  `
activity airplay alert-circle alert-octagon alert-triangle align-center align-justify align-left
align-right anchor aperture archive arrow-down-circle arrow-down-left arrow-down-right arrow-down
arrow-left-circle arrow-left arrow-right-circle arrow-right arrow-up-circle arrow-up-left
arrow-up-right arrow-up at-sign award bar-chart-2 bar-chart battery-charging battery bell-off bell
bluetooth bold book-open book bookmark box briefcase calendar camera-off camera cast check-circle
check-square check chevron-down chevron-left chevron-right chevron-up chevrons-down chevrons-left
chevrons-right chevrons-up circle clipboard clock cloud-drizzle cloud-lightning cloud-off cloud-rain
cloud-snow cloud code command compass copy corner-down-left corner-down-right corner-left-down
corner-left-up corner-right-down corner-right-up corner-up-left corner-up-right cpu credit-card crop
crosshair database delete disc dollar-sign download-cloud download droplet edit-2 edit-3 edit
external-link eye-off eye fast-forward feather file-minus file-plus file-text file film filter flag
folder-minus folder-plus folder gift git-branch git-commit git-merge git-pull-request globe grid
hard-drive hash headphones heart help-circle home image inbox info italic layers layout life-buoy
link-2 link list loader lock log-in log-out mail map-pin map maximize-2 maximize menu message-circle
message-square mic-off mic minimize-2 minimize minus-circle minus-square minus monitor moon
more-horizontal more-vertical move music navigation-2 navigation octagon package paperclip
pause-circle pause percent phone-call phone-forwarded phone-incoming phone-missed phone-off
phone-outgoing phone pie-chart play-circle play plus-circle plus-square plus pocket power printer
radio refresh-ccw refresh-cw repeat rewind rotate-ccw rotate-cw rss save scissors search send server
settings share-2 share shield-off shield shopping-bag shopping-cart shuffle sidebar skip-back
skip-forward slash sliders smartphone speaker square star stop-circle sun sunrise sunset tablet tag
target terminal thermometer thumbs-down thumbs-up toggle-left toggle-right trash-2 trash
trending-down trending-up triangle truck tv type umbrella underline unlock upload-cloud upload
user-check user-minus user-plus user-x user users video-off video voicemail volume-1 volume-2
volume-x volume watch wifi-off wifi wind x-circle x-square x zap-off zap zoom-in zoom-out
`
    .trim()
    .split(/\s+/)
)

const findings = []
const finding = (line, rule, what) =>
  findings.push(`${shown(actionPath)}${line ? `:${line}` : ''}: ${rule}: ${what}`)

const text = (token) => (token && isScalar(token) ? token.toString() : undefined)
const entries = (token) => (token && isMapping(token) ? [...token] : [])

/** INPUT_NAMES as options.ts spells it (the quoted strings of its array literal), or what went wrong. */
function inputNames() {
  let source
  try {
    source = readFileSync(optionsPath, 'utf8')
  } catch (error) {
    return error.message
  }
  const list = /export\s+const\s+INPUT_NAMES\b[^=]*=\s*\[([\s\S]*?)\]/.exec(source)
  if (!list) return `no INPUT_NAMES array found in ${shown(optionsPath)}`
  const body = list[1].replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
  return [...body.matchAll(/'([^']*)'|"([^"]*)"/g)].map((m) => m[1] ?? m[2])
}

function check(rootToken) {
  const name = text(rootToken.find('name'))
  if (!name?.trim()) finding(1, 'name', 'the action has no name')
  const description = rootToken.find('description')
  const about = text(description)
  if (!about?.trim()) finding(description?.line, 'description', 'the action has no description')
  else if (about.length > DESCRIPTION_MAX)
    finding(
      description.line,
      'description',
      `${about.length} characters; the Marketplace wants at most ${DESCRIPTION_MAX}`
    )

  const runs = rootToken.find('runs')
  const using = runs && isMapping(runs) ? runs.find('using') : undefined
  if (text(using) !== RUNS_USING)
    finding(
      using?.line ?? runs?.line,
      'runs-using',
      `runs.using is ${text(using) ?? 'missing'}; must be ${RUNS_USING}`
    )
  const main = runs && isMapping(runs) ? runs.find('main') : undefined
  if (text(main) !== RUNS_MAIN)
    finding(
      main?.line ?? runs?.line,
      'runs-main',
      `runs.main is ${text(main) ?? 'missing'}; must be ${RUNS_MAIN}`
    )
  else if (!existsSync(join(dirname(actionPath), RUNS_MAIN)))
    finding(main.line, 'runs-main', `${RUNS_MAIN} does not exist beside action.yml (npm run build)`)

  const inputs = entries(rootToken.find('inputs'))
  for (const { key, value } of inputs) {
    if (!text(isMapping(value) ? value.find('description') : undefined)?.trim())
      finding(key.line, 'input-description', `input ${key} has no description`)
  }
  for (const { key, value } of entries(rootToken.find('outputs'))) {
    if (!text(isMapping(value) ? value.find('description') : undefined)?.trim())
      finding(key.line, 'output-description', `output ${key} has no description`)
  }

  const expected = inputNames()
  if (typeof expected === 'string') {
    finding(undefined, 'input-names', expected)
  } else {
    const declared = new Set(inputs.map(({ key }) => key.toString()))
    const known = new Set(expected)
    for (const input of expected.filter((n) => !declared.has(n)))
      finding(
        undefined,
        'input-names',
        `input ${input} is in INPUT_NAMES (${shown(optionsPath)}) but not in action.yml`
      )
    for (const { key } of inputs.filter(({ key }) => !known.has(key.toString())))
      finding(key.line, 'input-names', `input ${key} is not in INPUT_NAMES (${shown(optionsPath)})`)
  }

  const branding = rootToken.find('branding')
  const icon = branding && isMapping(branding) ? branding.find('icon') : undefined
  const color = branding && isMapping(branding) ? branding.find('color') : undefined
  if (!ICONS.has(text(icon)))
    finding(
      icon?.line ?? branding?.line,
      'branding-icon',
      `branding.icon is ${text(icon) ?? 'missing'}; must be one of the Feather icons GitHub allows`
    )
  if (!COLORS.has(text(color)))
    finding(
      color?.line ?? branding?.line,
      'branding-color',
      `branding.color is ${text(color) ?? 'missing'}; must be one of ${[...COLORS].join(', ')}`
    )
  return `${inputs.length} inputs, ${entries(rootToken.find('outputs')).length} outputs, ${text(using)} ${text(main)}`
}

let content
let summary
try {
  content = readFileSync(actionPath, 'utf8')
} catch (error) {
  finding(undefined, 'read', error.message)
}
if (content !== undefined) {
  const parsed = parseAction({ name: shown(actionPath), content }, new NoOperationTraceWriter())
  // The parser's schema (0.3.61) lists every documented branding color but black; that one error is
  // left to the branding-color rule.
  const color = parsed.value && isMapping(parsed.value) ? parsed.value.find('branding') : undefined
  const colorLine = color && isMapping(color) ? color.find('color')?.line : undefined
  for (const error of parsed.context.errors.getErrors()) {
    const line = error.range?.start.line
    if (line === colorLine && error.rawMessage === "Unexpected value 'black'") continue
    finding(line, 'parse', error.rawMessage.split('\n')[0].trim())
  }
  if (parsed.value && isMapping(parsed.value)) summary = check(parsed.value)
  else if (parsed.context.errors.count === 0) finding(undefined, 'parse', 'not a mapping')
}

if (findings.length > 0) {
  for (const line of findings) console.error(line)
  process.exitCode = 1
} else {
  console.log(`${shown(actionPath)}: ${summary}: ok`)
}
