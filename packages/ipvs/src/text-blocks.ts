/**
 * Lines of a large output joined into blocks of at least 128 KiB, which V8 allocates outside the
 * young generation so the collector never copies them. A line is a tree of string pieces until
 * joined; holding ~10^5 of them to the end of a render made scavenges copy them again and again
 * (10k services: 8.5 MB of IPVS files).
 */
const BLOCK = 1 << 17

export class TextBlocks {
  private readonly blocks: string[] = []
  private lines: string[] = []
  private size = 0

  push(line: string): void {
    this.lines.push(line)
    this.size += line.length
    if (this.size >= BLOCK) this.flush()
  }

  private flush(): void {
    this.blocks.push(this.lines.join('\n'))
    this.lines = []
    this.size = 0
  }

  /** Every line followed by a newline; empty without lines. */
  text(): string {
    if (this.lines.length > 0) this.flush()
    return this.blocks.length === 0 ? '' : `${this.blocks.join('\n')}\n`
  }
}
