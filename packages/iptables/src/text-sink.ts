/**
 * Lines in output order, joined into chunks of ~256 KiB as they come: a line's pieces live only
 * until its chunk is joined, and a chunk is large enough for V8 to allocate it outside the young
 * generation, so the 33 MB of a 10k-service ruleset are not copied from one GC space to another
 * while the rest is spelled. The caller joins the chunks once at the end.
 */
export class TextSink {
  private pending: string[] = []
  private size = 0
  readonly chunks: string[] = []

  /** Appends one line (without its newline). */
  line(text: string): void {
    this.pending.push(text)
    this.size += text.length
    if (this.size >= 1 << 18) this.flush()
  }

  /** Appends lines already spelled, each ending in a newline. */
  text(lines: string): void {
    if (lines === '') return
    this.flush()
    this.chunks.push(lines)
  }

  /** Moves the pending lines into a chunk; call before reading `chunks`. */
  flush(): void {
    if (this.pending.length === 0) return
    this.chunks.push(`${this.pending.join('\n')}\n`)
    this.pending = []
    this.size = 0
  }
}
