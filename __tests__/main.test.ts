// The action's entry: the safety net that turns "the event loop drained before a result" into a
// failed step, naming the step it was in (that case once exited 0: a green step that promoted nothing).
import { afterEach, describe, expect, jest, test } from '@jest/globals'
import type { PromoteOptions } from '../src/promotion/promote.js'

const inputs: Record<string, string> = { source: '127.0.0.1:5000/app:v1', destination: '127.0.0.1:5001/app' }
const setFailed = jest.fn<(message: string) => void>()
const warning = jest.fn<(message: string) => void>()
jest.unstable_mockModule('@actions/core', () => ({
  getInput: (name: string) => inputs[name] ?? '',
  setSecret: jest.fn(),
  setFailed,
  warning,
  info: jest.fn(),
  debug: jest.fn(),
  isDebug: () => false,
  setOutput: jest.fn(),
  getIDToken: jest.fn(),
  group: (_name: string, task: () => Promise<unknown>) => task(),
  summary: { addHeading: jest.fn(), write: jest.fn() }
}))
let seen: PromoteOptions | undefined
jest.unstable_mockModule('../src/promotion/promote.js', () => ({
  newProgress: () => ({ phase: 'read inputs', copy: {}, written: [] }),
  // A promotion whose promise never settles: what a lost socket callback looked like.
  promote: (_inputs: unknown, options: PromoteOptions) => {
    seen = options
    options.progress!.phase = 'resolve the source and check the destination tags'
    return new Promise(() => undefined)
  },
  stagePromotion: () => new Promise(() => undefined),
  displayReference: () => ''
}))
const { run } = await import('../src/action/main.js')

afterEach(() => {
  setFailed.mockClear()
  process.exitCode = undefined
})

describe('run', () => {
  test('fails the step when the process is about to exit before the promotion produced a result', async () => {
    void run()
    await new Promise((r) => setImmediate(r))
    expect(seen).toBeDefined()
    expect(setFailed).not.toHaveBeenCalled()
    process.emit('beforeExit', 0)
    expect(setFailed).toHaveBeenCalledTimes(1)
    expect(setFailed.mock.calls[0][0]).toMatch(
      /stopped without a result while it was at "resolve the source and check the destination tags"/
    )
    expect(process.exitCode).toBe(1)
    // Only once, however often the loop drains.
    process.emit('beforeExit', 1)
    expect(setFailed).toHaveBeenCalledTimes(1)
  })

  test('a misspelt with: key is warned about before the promotion starts', async () => {
    process.env.INPUT_FLOATING_TAGS = 'latest'
    try {
      void run()
      await new Promise((r) => setImmediate(r))
      expect(warning).toHaveBeenCalledWith(expect.stringMatching(/did you mean "floating-tags"/))
    } finally {
      delete process.env.INPUT_FLOATING_TAGS
      process.emit('beforeExit', 0)
    }
  })
})
