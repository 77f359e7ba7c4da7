/**
 * Per-test cleanup for kernel tests: whatever a test creates (a lab's namespaces, fake tools) is
 * handed to the returned function and undone after that test, also when it failed.
 */
import { afterEach } from 'vitest'

/** Registers the cleanup in the calling test file; call the result with each undo step. */
export function cleanupAfterEach(): (undo: () => unknown) => void {
  const undos: (() => unknown)[] = []
  afterEach(async () => {
    for (const undo of undos.splice(0)) await undo()
  })
  return (undo) => void undos.push(undo)
}
