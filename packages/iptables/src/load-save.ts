/**
 * Reads iptables text back into rules: both the iptables-restore input kproxc and kube-proxy write and
 * what `iptables-save` / `ip6tables-save` print on a live node (iptables.md §9: counters, policies,
 * `/32` suffixes, `--set-xmark`, quoted comments, 11-decimal probabilities, `--reject-with`).
 */

/** One match of a rule, with its options as written (option name → values). */
export interface LoadedMatch {
  /** `-s`, `-d`, `-i`, `-o`, `-p` for the core matches, else the `-m` module name. */
  module: string
  negated: boolean
  option: string
  values: string[]
}

/** One `-A` line, split into matches and a target. */
export interface LoadedRule {
  table: string
  chain: string
  /** The line as read (without `-A CHAIN`). */
  text: string
  comment?: string
  matches: LoadedMatch[]
  /** `-j`/`-g` name, or null for a rule without target (counts only). */
  target: { name: string; goto: boolean; options: Record<string, string[]> } | null
}

/** The tables of one dump: chain name → rules in order. Built-in policies are kept. */
export interface LoadedTables {
  tables: Map<string, Map<string, LoadedRule[]>>
  policies: Map<string, string>
}

/** Splits a line into words: double quotes group, backslash escapes the next character (save output escapes quotes). */
export function splitWords(line: string): string[] {
  const out: string[] = []
  let cur = ''
  let inWord = false
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string
    if (c === '\\' && i + 1 < line.length) {
      cur += line[++i]
      inWord = true
    } else if (c === '"') {
      quoted = !quoted
      inWord = true
    } else if (!quoted && (c === ' ' || c === '\t')) {
      if (inWord) out.push(cur)
      cur = ''
      inWord = false
    } else {
      cur += c
      inWord = true
    }
  }
  if (inWord) out.push(cur)
  return out
}

// Options that take exactly this many values; every other option takes the words up to the next option.
const ARITY: Record<string, number> = { '--comment': 1, '--match-set': 2, '--nfacct-name': 1, '--name': 1 }
const CORE: Record<string, string> = { '-s': 's', '--source': 's', '-d': 'd', '--destination': 'd', '-i': 'i', '--in-interface': 'i', '-o': 'o', '--out-interface': 'o', '-p': 'p', '--protocol': 'p' }

function isOption(w: string | undefined): boolean {
  return w === undefined || w === '!' || (w.startsWith('-') && w.length > 1 && !/^-\d/.test(w))
}

/** Parses the words after `-A CHAIN`. */
export function parseRuleWords(table: string, chain: string, words: readonly string[]): LoadedRule {
  const matches: LoadedMatch[] = []
  let target: LoadedRule['target'] = null
  let module = ''
  let negated = false
  let comment: string | undefined
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string
    if (w === '!') {
      negated = true
      continue
    }
    if (w === '-m' || w === '--match') {
      module = words[++i] ?? ''
      matches.push({ module, negated: false, option: '', values: [] })
      continue
    }
    if (w === '-j' || w === '--jump' || w === '-g' || w === '--goto') {
      const name = words[++i] ?? ''
      const options: Record<string, string[]> = {}
      let opt = ''
      for (i++; i < words.length; i++) {
        const t = words[i] as string
        if (t.startsWith('--')) {
          opt = t
          options[opt] = []
        } else if (opt) (options[opt] as string[]).push(t)
      }
      target = { name, goto: w === '-g' || w === '--goto', options }
      break
    }
    const core = CORE[w]
    const values: string[] = []
    const arity = ARITY[w]
    if (arity !== undefined) for (let k = 0; k < arity; k++) values.push(words[++i] ?? '')
    else while (!isOption(words[i + 1])) values.push(words[++i] as string)
    if (core) matches.push({ module: core === 'p' ? 'p' : core, negated, option: w, values })
    else {
      if (w === '--comment' && module === 'comment') comment = values[0]
      matches.push({ module, negated, option: w, values })
    }
    negated = false
  }
  // A module line with options keeps only the options; a bare module (nfacct without options) stays.
  const kept = matches.filter((m, k) => m.option !== '' || !matches.slice(k + 1).some((n) => n.module === m.module && n.option !== ''))
  const text = words.map((x) => (/[\s"]/.test(x) || x === '' ? JSON.stringify(x) : x)).join(' ')
  return { table, chain, text, ...(comment !== undefined ? { comment } : {}), matches: kept, target }
}

/** Reads iptables-restore input or iptables-save output (one family). Unknown lines are ignored like `#` comments. */
export function loadIptablesText(text: string): LoadedTables {
  const tables = new Map<string, Map<string, LoadedRule[]>>()
  const policies = new Map<string, string>()
  let table = ''
  const chains = (t: string) => {
    let m = tables.get(t)
    if (!m) tables.set(t, (m = new Map()))
    return m
  }
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line === 'COMMIT') continue
    if (line.startsWith('*')) {
      table = line.slice(1)
      chains(table)
      continue
    }
    if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(/\s+/)
      if (!name) continue
      if (!chains(table).has(name)) chains(table).set(name, [])
      if (policy && policy !== '-') policies.set(`${table}/${name}`, policy)
      continue
    }
    // iptables-save -c prefixes counters: "[0:0] -A ...".
    const words = splitWords(line.replace(/^\[\d+:\d+\]\s+/, ''))
    if ((words[0] === '-A' || words[0] === '--append' || words[0] === '-I') && words[1]) {
      const chain = words[1]
      const rest = words[0] === '-I' && /^\d+$/.test(words[2] ?? '') ? words.slice(3) : words.slice(2)
      const list = chains(table).get(chain) ?? []
      const rule = parseRuleWords(table, chain, rest)
      if (words[0] === '-I') list.unshift(rule)
      else list.push(rule)
      chains(table).set(chain, list)
    }
  }
  return { tables, policies }
}
