// Prints the plain closing line CI reads (`N passed, N failed`) and, when ECR_PROMOTE_COUNT_FILE is
// set, writes the two numbers there so .ci/run can print the line last.
import { writeFileSync } from 'node:fs'

export default class CountReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites
    const passed = results.numPassedTests
    process.stdout.write(`\n${passed} passed, ${failed} failed\n`)
    if (process.env.ECR_PROMOTE_COUNT_FILE)
      writeFileSync(process.env.ECR_PROMOTE_COUNT_FILE, `${passed} ${failed}\n`)
  }
}
