/**
 * Splits `kubectl get --watch --output-watch-events -o json` output into events: JSON objects
 * printed back to back, each pretty-printed over several lines. Braces are counted outside
 * strings, so an object is handed on as soon as its closing brace arrives.
 */

/** Feeds text in any chunking; returns the complete top-level JSON texts it closed. */
export class JSONObjectSplitter {
  private buf = ''
  private depth = 0
  private inString = false
  private escaped = false
  private start = -1
  private scanned = 0

  push(chunk: string): string[] {
    this.buf += chunk
    const out: string[] = []
    let i = this.scanned
    for (; i < this.buf.length; i++) {
      const c = this.buf.charCodeAt(i)
      if (this.inString) {
        if (this.escaped) this.escaped = false
        else if (c === 92) this.escaped = true
        else if (c === 34) this.inString = false
        continue
      }
      if (c === 34) this.inString = true
      else if (c === 123 || c === 91) {
        if (this.depth === 0) this.start = i
        this.depth++
      } else if (c === 125 || c === 93) {
        this.depth--
        if (this.depth === 0) {
          out.push(this.buf.slice(this.start, i + 1))
          this.buf = this.buf.slice(i + 1)
          i = -1
          this.start = -1
        } else if (this.depth < 0) {
          // Stray closer: drop what came before it and resynchronise.
          this.depth = 0
          this.buf = this.buf.slice(i + 1)
          i = -1
        }
      } else if (this.depth === 0 && c > 32) {
        // Text between objects is not JSON; report it as its own (invalid) item.
        const end = this.buf.indexOf('\n', i)
        if (end < 0) break
        out.push(this.buf.slice(i, end))
        this.buf = this.buf.slice(end + 1)
        i = -1
      }
    }
    this.scanned = Math.max(0, i)
    return out
  }

  /** Whatever is left at the end of input (an unfinished object), or ''. */
  rest(): string {
    return this.buf.trim()
  }
}
