// The integration and end-to-end tests need real registries and the built bundle: fail loudly,
// before any test, when either is missing, instead of letting tests pass by not running.
import { existsSync } from 'node:fs'
import { findRegistryBinary } from '../../scripts/lib/registries.mjs'
import { BUNDLE } from '../../scripts/lib/action.mjs'

export default function globalSetup() {
  findRegistryBinary()
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build`)
}
