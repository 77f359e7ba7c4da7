/**
 * The typed intermediate form of one iptables-restore document. `compile` builds it in final order;
 * `render` is the only code that spells it. Matches are kept in the order kube-proxy writes them,
 * because iptables-save comparisons and upstream's expected text depend on it.
 */
import type { Family } from '@kproxc/core'

/** Protocols as iptables spells them. */
export type IptProtocol = 'tcp' | 'udp' | 'sctp'

/** One match fragment of a rule. */
export type Match =
  /** `-m comment --comment X`; `quoted`: kube-proxy writes literal quotes around it. */
  | { kind: 'comment'; text: string; quoted: boolean }
  /** `-m p -p p` (kube-proxy always loads the protocol's match module first). */
  | { kind: 'protocol'; protocol: IptProtocol }
  /** `[!] -s addr` / `[!] -d addr` (an address or a CIDR). */
  | { kind: 'address'; direction: 'source' | 'destination'; address: string; negate: boolean }
  /** `[!] -i name` (a `+` suffix is iptables' wildcard). */
  | { kind: 'inInterface'; name: string; negate: boolean }
  /** `--dport N` (needs a preceding protocol match). */
  | { kind: 'dport'; port: number }
  /** `-m addrtype --src-type LOCAL` / `--dst-type LOCAL`. */
  | { kind: 'addrtype'; direction: 'source' | 'destination' }
  /** `-m mark [!] --mark M/M`. */
  | { kind: 'mark'; mark: number; negate: boolean }
  /** `-m conntrack [!] --ctstate A,B`. */
  | { kind: 'conntrack'; states: readonly string[]; negate: boolean }
  /** `-m recent --name N --set` or `-m recent --name N --rcheck --seconds T --reap`. */
  | { kind: 'recentSet'; name: string }
  | { kind: 'recentCheck'; name: string; seconds: number }
  /** `-m statistic --mode random --probability P`, P already formatted as upstream does. */
  | { kind: 'statistic'; probability: string }
  /** `-m nfacct --nfacct-name N`. */
  | { kind: 'nfacct'; name: string }

/** What a rule does with a matching packet; null (no `-j`) only counts it. */
export type Target =
  | { kind: 'jump'; chain: string }
  | { kind: 'verdict'; verdict: 'ACCEPT' | 'DROP' | 'REJECT' | 'RETURN' }
  | { kind: 'dnat'; destination: string }
  | { kind: 'markOr'; mark: number }
  | { kind: 'markXor'; mark: number }
  | { kind: 'masquerade'; randomFully: boolean }

/** One `-A` line. */
export interface Rule {
  chain: string
  matches: readonly Match[]
  target: Target | null
}

/** Chains and rules for one table, each list in output order. */
export interface TableSection {
  /** Chains declared with `:NAME - [0:0]` (created, and flushed under --noflush). */
  chains: readonly string[]
  rules: readonly Rule[]
}

/** One table: kube-proxy's restore text, then what kube-proxy installs with separate commands. */
export interface Table {
  name: 'filter' | 'nat'
  kubeProxy: TableSection
  /** Jumps from built-in chains (and chains they need) that kube-proxy adds outside iptables-restore. */
  builtin: TableSection
}

/** One document for iptables-restore (IPv4) or ip6tables-restore (IPv6). */
export interface Ruleset {
  family: Family
  /** filter, then nat: the order kube-proxy writes them. */
  tables: readonly [Table, Table]
}
