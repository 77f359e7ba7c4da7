/**
 * The event streams `kproxc watch` follows. kubectl watches one resource type per command
 * ("watch is only supported on individual resources and resource collections"), so a node needs
 * one `kubectl get TYPE --watch --output-watch-events -o json` per type; each is read as its own
 * stream (a file, a FIFO or bash's <(...) /dev/fd/N) with its own splitter, because several
 * writers on one pipe may interleave the lines of objects larger than PIPE_BUF.
 *
 * kube-proxy syncs for the first time only once its informers have listed every type. kubectl
 * prints the existing objects first as ADDED events, with no marker at the end of that list, so
 * the first sync waits until every stream has sent events and then been quiet for `settleMs` (or
 * has ended), and at most 10 × settleMs (at least 5 s): a type with no objects sends nothing, and on
 * a busy cluster a stream (Node status updates, say) may never be quiet that long.
 */
import { open } from 'node:fs/promises'
import { KproxcError } from '@kproxc/core'
import type { IO } from './io.js'
import { JSONObjectSplitter } from './watch-stream.js'

/** One input stream: a name for messages, its text as it arrives, and how to stop reading it. */
export interface EventStream {
  name: string
  chunks: AsyncIterable<string>
  close?: () => void
}

/** The streams of the watch arguments (none or `-`: stdin), opened at once so a bad path fails before anything runs. */
export async function openStreams(paths: readonly string[], io: IO): Promise<EventStream[]> {
  const list = paths.length === 0 ? ['-'] : paths
  if (list.filter((p) => p === '-').length > 1) throw new KproxcError('USAGE', 'stdin (-) can be only one of the streams')
  const out: EventStream[] = []
  for (const path of list) {
    if (path === '-') {
      out.push({ name: '<stdin>', chunks: io.stdinChunks ? io.stdinChunks() : (async function* () { yield await io.stdin() })() })
      continue
    }
    let handle
    try {
      handle = await open(path, 'r')
    } catch (e) {
      throw readError(path, e)
    }
    if ((await handle.stat()).isDirectory()) {
      await handle.close()
      throw new KproxcError('USAGE', `cannot read ${path}: a directory, not an event stream`)
    }
    // The stream owns the handle and closes it at the end.
    const stream = handle.createReadStream({ encoding: 'utf8' })
    out.push({ name: path, chunks: stream as AsyncIterable<string>, close: () => stream.destroy() })
  }
  return out
}

/** A failed open or read as a usage error naming the stream; other errors as they are. */
function readError(name: string, e: unknown): unknown {
  const err = e as NodeJS.ErrnoException
  if (typeof err?.code !== 'string') return e
  return new KproxcError('USAGE', `cannot read ${name}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`)
}

/**
 * Reads every stream to its end, handing each complete JSON text to `onEvent` with its stream's
 * name, and calls `onSettled` once, when the first sync may run (see the file comment). When one
 * stream fails (or `onEvent` throws), every other stream is closed and the first error is thrown
 * once all have stopped, so nothing more arrives after the caller has given up.
 */
export async function followStreams(
  streams: readonly EventStream[],
  settleMs: number,
  onEvent: (text: string, stream: string) => void,
  onSettled: () => void,
  holdLimit = Math.max(5000, 10 * settleMs),
): Promise<void> {
  const started = Date.now()
  const state = streams.map(() => ({ events: 0, last: 0, ended: false }))
  let settled = false
  let failure: { error: unknown } | undefined
  const check = () => {
    if (settled) return
    const now = Date.now()
    const ready = now - started >= holdLimit || state.every((s) => s.ended || (s.events > 0 && now - s.last >= settleMs))
    if (!ready) return
    settled = true
    clearInterval(timer)
    onSettled()
  }
  const timer = setInterval(check, Math.max(10, Math.min(100, settleMs / 4)))
  // Reading the streams keeps the process alive; the check alone must not.
  timer.unref()
  try {
    await Promise.all(
      streams.map(async (stream, i) => {
        const s = state[i] as (typeof state)[number]
        const splitter = new JSONObjectSplitter()
        const take = (text: string) => {
          s.events++
          s.last = Date.now()
          onEvent(text, stream.name)
          if (settleMs === 0) check()
        }
        try {
          for await (const chunk of stream.chunks) {
            if (failure) break
            for (const text of splitter.push(chunk)) take(text)
          }
          const rest = failure ? '' : splitter.rest()
          if (rest) take(rest)
        } catch (error) {
          // A stream closed because another failed ends with an error of its own: not the cause.
          if (!failure) {
            failure = { error: readError(stream.name, error) }
            for (const other of streams) other.close?.()
          }
        }
        s.ended = true
        check()
      }),
    )
    if (failure) throw failure.error
  } finally {
    clearInterval(timer)
    if (!settled) {
      settled = true
      onSettled()
    }
  }
}
