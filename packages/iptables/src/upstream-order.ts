/**
 * The normal form kube-proxy's unit tests compare in (sortIPTablesRules in
 * pkg/proxy/iptables/proxier_test.go). kube-proxy walks services in Go map order, so its raw text
 * differs between syncs; sorting both sides this way makes kproxc output comparable with upstream
 * expectations and with a node's ruleset.
 */

interface ParsedTable {
  name: string
  chains: string[]
  rules: Map<string, string[]>
  deletes: string[]
}

const NODEPORTS = 'KUBE-NODEPORTS'
const SERVICES = 'KUBE-SERVICES'

/** The `--comment` value of a rule line (quotes and escapes removed), or undefined. */
export function ruleComment(line: string): string | undefined {
  const at = line.indexOf(' --comment ')
  if (at < 0) return undefined
  const rest = line.slice(at + ' --comment '.length)
  if (!rest.startsWith('"')) return rest.split(' ')[0]
  let out = ''
  for (let i = 1; i < rest.length; i++) {
    const c = rest[i] as string
    if (c === '\\' && i + 1 < rest.length) out += rest[++i]
    else if (c === '"') return out
    else out += c
  }
  return out
}

function serviceName(line: string): string | undefined {
  const c = ruleComment(line)
  if (c === undefined) return undefined
  const i = c.search(/[ :]/)
  return i < 0 ? c : c.slice(0, i)
}

/** Upstream's comparator: by the service name in the comment; rules without a comment do not move. */
function byServiceName(a: string, b: string): number {
  const x = serviceName(a)
  const y = serviceName(b)
  if (x === undefined || y === undefined) return 0
  return x < y ? -1 : x > y ? 1 : 0
}

function chainRank(name: string): number {
  if (name === NODEPORTS) return 0
  if (name === SERVICES) return 1
  return name.startsWith('KUBE-') ? 2 : 3
}

/**
 * Sorts an iptables-restore document as upstream's tests do: tables by name; chains with
 * KUBE-NODEPORTS, KUBE-SERVICES, other KUBE-* then the rest (each by name); rules grouped per chain,
 * keeping their order except that KUBE-NODEPORTS and KUBE-SERVICES are stably sorted by service name,
 * with nat KUBE-SERVICES' "must be the last rule" rule kept last. Comment lines are dropped; rules of
 * undeclared (built-in) chains are grouped like declared non-KUBE chains.
 */
export function sortLikeUpstream(text: string): string {
  const tables: ParsedTable[] = []
  let current: ParsedTable | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    if (line.startsWith('*')) {
      current = { name: line.slice(1), chains: [], rules: new Map(), deletes: [] }
      tables.push(current)
      continue
    }
    if (!current) throw new Error(`line outside a table: ${line}`)
    if (line === 'COMMIT') {
      current = undefined
      continue
    }
    if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0] as string
      if (!current.chains.includes(name)) current.chains.push(name)
      continue
    }
    if (line.startsWith('-X ')) {
      current.deletes.push(line)
      continue
    }
    if (!line.startsWith('-A ')) throw new Error(`unexpected line: ${line}`)
    const chain = line.split(' ')[1] as string
    if (!current.chains.includes(chain)) current.chains.push(chain)
    const list = current.rules.get(chain) ?? []
    list.push(line)
    current.rules.set(chain, list)
  }
  tables.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const out: string[] = []
  for (const t of tables) {
    t.chains.sort((a, b) => chainRank(a) - chainRank(b) || (a < b ? -1 : a > b ? 1 : 0))
    const nodePorts = t.rules.get(NODEPORTS)
    if (nodePorts) nodePorts.sort(byServiceName)
    const services = t.rules.get(SERVICES)
    if (services) {
      const isLast = (r: string) => (ruleComment(r) ?? '').includes('must be the last rule')
      services.sort((a, b) => (t.name === 'nat' ? Number(isLast(a)) - Number(isLast(b)) : 0) || byServiceName(a, b))
    }
    out.push(`*${t.name}`)
    for (const c of t.chains) out.push(`:${c} - [0:0]`)
    for (const c of t.chains) out.push(...(t.rules.get(c) ?? []))
    out.push(...t.deletes.sort())
    out.push('COMMIT')
  }
  return `${out.join('\n')}\n`
}
