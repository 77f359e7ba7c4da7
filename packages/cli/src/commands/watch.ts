import { readFile } from 'node:fs/promises'
import { Command, Option } from 'commander'
import {
  type Backend, type Family, KproxcError, type LoadedObjects, ModelStore, type OutputFile, type ProxyMode, type ProxyModel, type StoreChange,
  durationSeconds, formatIssue, loadObjects,
} from '@kproxc/core'
import { type Runner, spawnRunner } from '@kproxc/iptables/apply'
import type { IO } from '../io.js'
import { type ModelFlags, addBackendOptions, addModelOptions, modelOptions } from '../options.js'
import { BACKENDS } from '../backends.js'
import { type SyncSession, joinFiles, syncSession } from '../sync.js'
import { DEFAULT_MIN_SYNC_PERIOD, type WatchFamilies, minSyncPeriod, watchFamilies } from '../watch-plan.js'
import { followStreams, openStreams } from '../watch-input.js'
import { APPLIERS, DELTA_APPLIERS } from './apply.js'

interface WatchFlags extends ModelFlags {
  format?: string
  apply?: boolean
  minSyncPeriod?: string
  fullSyncPeriod: string
  initialSettle: string
  [key: string]: unknown
}

const KINDS = new Set(['Service', 'EndpointSlice', 'Node', 'ServiceCIDR'])

/**
 * `kproxc watch`: follows `kubectl get TYPE --watch --output-watch-events -o json` streams (one per
 * type, since kubectl watches one type per command; or one stream on stdin), batches events like
 * kube-proxy's minSyncPeriod, and prints the full ruleset once, then each sync's delta, of one family. With --apply it programs the kernel as kube-proxy does,
 * every family of a dual-stack node unless --ip-family picks one: a full apply first, then each
 * family's delta alone (a partial sync), and a full apply of all of them again after any failure.
 */
export function watchCommand(io: IO, runnerFor: (io: IO) => Runner = (x) => spawnRunner({ env: x.env })): Command {
  const cmd = new Command('watch')
    .description('follow kubectl watch events (kubectl get TYPE --watch --output-watch-events -o json, one stream per type: nodes, services -A, endpointslices -A, servicecidrs) and print the full ruleset, then each sync\'s delta')
    .addOption(new Option('--mode <mode>', 'proxy mode').choices(Object.keys(BACKENDS)).makeOptionMandatory())
    .option('--format <format>', 'output format (nftables: json or text)')
    .option('--apply', 'program the kernel of this network namespace besides printing: every IP family of the node unless --ip-family picks one (as kproxc apply); a full apply first and after a failure, then only each sync\'s delta. What is printed stays one family: --ip-family, else the node\'s primary one')
    .option('--min-sync-period <duration>', `at most one sync per period; events in between are batched (kube-proxy minSyncPeriod; default: the --config file's minSyncPeriod of the --mode section, else ${DEFAULT_MIN_SYNC_PERIOD})`)
    .option('--initial-settle <duration>', 'before the first sync, wait until every stream has sent events and then been quiet this long, or has ended, but at most 10 times this long (at least 5s) (kubectl prints the existing objects first; kube-proxy syncs once its informers have listed everything); 0: as soon as every stream has sent an event', '1s')
    .option('--full-sync-period <duration>', 'with --apply: re-apply the whole ruleset this often, repairing rules changed behind kproxc\'s back, retrying a failed apply and deleting IPVS real servers that finished draining (kube-proxy forces a full sync hourly); 0 turns it off', '1h')
  addModelOptions(cmd)
  addBackendOptions(cmd)
  cmd.argument('[streams...]', 'event streams, one per kubectl watch (files, FIFOs, or <(kubectl get TYPE --watch --output-watch-events -o json) in bash); none or - reads stdin')
  cmd.action(async (paths: string[], flags: WatchFlags) => {
    const mode = flags.mode as ProxyMode
    const backend = BACKENDS[mode] as Backend
    const format = flags.format ?? backend.formats[0] ?? ''
    if (!backend.formats.includes(format)) throw new KproxcError('USAGE', `--format ${format} is not available for --mode ${mode} (choose ${backend.formats.join(', ')})`)
    const fullPeriod = durationSeconds(flags.fullSyncPeriod)
    if (fullPeriod === undefined) throw new KproxcError('USAGE', `--full-sync-period ${JSON.stringify(flags.fullSyncPeriod)} is not a duration such as 1h`)
    const settle = durationSeconds(flags.initialSettle)
    if (settle === undefined) throw new KproxcError('USAGE', `--initial-settle ${JSON.stringify(flags.initialSettle)} is not a duration such as 1s`)
    const config = flags.config ? loadObjects([{ name: flags.config, text: await readFile(flags.config, 'utf8') }]).config : undefined
    const period = minSyncPeriod(flags.minSyncPeriod, config, mode).seconds
    const backendOptions = Object.fromEntries(backend.options.map((o) => [o.key, flags[o.key] as string | boolean | undefined]))
    const watcher = new Watcher(io, mode, backend, format, flags, config, backendOptions, period * 1000, runnerFor(io))
    const streams = await openStreams(paths, io)
    if (flags.apply && fullPeriod > 0) watcher.resyncEvery(fullPeriod * 1000)
    try {
      await followStreams(streams, settle * 1000, (text, name) => watcher.event(text, streams.length > 1 ? name : undefined), () => watcher.release())
    } finally {
      await watcher.close()
    }
  })
  return cmd
}

class Watcher {
  private store: ModelStore | undefined
  /** Decided at the first sync, from the node then in the input, and kept (kube-proxy picks its proxiers at startup). */
  private plan: WatchFamilies | undefined
  /** One per family the store computes; only the printed family's output goes to stdout. */
  private sessions = new Map<Family, SyncSession>()
  private pending = new Map<string, StoreChange>()
  private events = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private lastSync = -Infinity
  private running: Promise<void> = Promise.resolve()
  private syncs = 0
  /** The kernel state is unknown (nothing applied yet, or an apply failed): the next apply is a full one. */
  private needFullApply = true
  private resync: ReturnType<typeof setInterval> | undefined
  /** No sync before the streams' initial listings are in. */
  private held = true
  /** Input has ended (or failed): the last batch is synced and nothing more is taken. */
  private closed = false

  constructor(
    private readonly io: IO,
    private readonly mode: ProxyMode,
    private readonly backend: Backend,
    private readonly format: string,
    private readonly flags: WatchFlags,
    private readonly config: LoadedObjects['config'],
    private readonly backendOptions: Record<string, string | boolean | undefined>,
    private readonly periodMs: number,
    private readonly runner: Runner,
  ) {}

  /** One event's text: validated, then queued; an invalid one is reported and dropped. */
  event(text: string, stream?: string): void {
    if (this.closed) return
    this.events++
    const where = stream ? `${stream}: event ${this.events}` : `event ${this.events}`
    let ev: { type?: unknown; object?: Record<string, unknown> }
    try {
      ev = JSON.parse(text) as typeof ev
    } catch (e) {
      this.io.stderr(`kproxc watch: ${where}: not JSON (${(e as Error).message}), skipped\n`)
      return
    }
    const type = ev?.type
    const obj = ev?.object
    if (type === 'BOOKMARK') return
    if ((type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') || typeof obj !== 'object' || obj === null) {
      this.io.stderr(`kproxc watch: ${where}: not a watch event ({"type":"ADDED|MODIFIED|DELETED","object":{...}}), skipped\n`)
      return
    }
    const kind = obj.kind
    if (typeof kind !== 'string' || !KINDS.has(kind)) return
    const meta = (obj.metadata ?? {}) as { name?: unknown; namespace?: unknown }
    const name = typeof meta.name === 'string' ? meta.name : undefined
    const namespace = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : 'default'
    if (!name) {
      this.io.stderr(`kproxc watch: ${where}: ${kind} without metadata.name, skipped\n`)
      return
    }
    // Nodes and ServiceCIDRs are cluster-scoped.
    const id = kind === 'Node' || kind === 'ServiceCIDR' ? `${kind}/${name}` : `${kind}/${namespace}/${name}`
    if (type === 'DELETED') {
      this.queue(id, kind === 'Node' || kind === 'ServiceCIDR' ? { op: 'delete', kind, name } : { op: 'delete', kind: kind as 'Service' | 'EndpointSlice', namespace, name })
      return
    }
    let loaded: LoadedObjects
    try {
      loaded = loadObjects([{ name: `${where} (${type} ${id})`, text: JSON.stringify(obj) }])
    } catch (e) {
      if (!(e instanceof KproxcError)) throw e
      this.io.stderr(`kproxc watch: ${where}: invalid ${kind}, skipped:\n${e.issues.map((i) => `  ${formatIssue(i)}\n`).join('') || `  ${e.message}\n`}`)
      return
    }
    const change: StoreChange | undefined = loaded.services[0]
      ? { op: 'upsert', kind: 'Service', object: loaded.services[0] }
      : loaded.endpointSlices[0]
        ? { op: 'upsert', kind: 'EndpointSlice', object: loaded.endpointSlices[0] }
        : loaded.nodes[0]
          ? { op: 'upsert', kind: 'Node', object: loaded.nodes[0] }
          : loaded.serviceCIDRs?.[0] && { op: 'upsert', kind: 'ServiceCIDR', object: loaded.serviceCIDRs[0] }
    if (change) this.queue(id, change)
  }

  private queue(id: string, change: StoreChange): void {
    // Like kube-proxy's change trackers: only the last state of each object matters.
    this.pending.delete(id)
    this.pending.set(id, change)
    this.schedule()
  }

  /** The initial listing is in (see followStreams): syncs may start. */
  release(): void {
    this.held = false
    this.schedule()
  }

  private schedule(): void {
    if (this.timer || this.held || this.closed || this.pending.size === 0) return
    const wait = Math.max(0, this.lastSync + this.periodMs - Date.now())
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.running = this.running.then(() => this.syncReported())
    }, wait)
  }

  /**
   * A full apply of the current state every `ms` (kube-proxy's forced full sync): it repairs rules
   * that someone else changed and retries an apply that failed while no event came in.
   */
  resyncEvery(ms: number): void {
    this.resync = setInterval(() => {
      this.running = this.running.then(() => this.fullResync())
    }, ms)
    // Reading stdin keeps the process alive; the timer alone must not.
    this.resync.unref()
  }

  private async fullResync(): Promise<void> {
    // Nothing applied yet (no model), or a sync is queued that will apply anyway.
    if (!this.store || this.timer) return
    this.needFullApply = true
    try {
      this.io.stderr('kproxc watch: periodic full sync\n')
      await this.applySync(this.store.model, new Map())
    } catch (e) {
      if (!(e instanceof KproxcError)) throw e
      this.io.stderr(`kproxc watch: periodic full sync failed: ${e.message}\n`)
    }
  }

  /** At end of input: the last batch, then done. */
  async close(): Promise<void> {
    this.closed = true
    if (this.resync) clearInterval(this.resync)
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = undefined
      this.running = this.running.then(() => this.syncReported())
    }
    await this.running
  }

  /** A failed apply is reported; the next sync tries again with the state at that time. */
  private async syncReported(): Promise<void> {
    try {
      await this.sync()
    } catch (e) {
      if (!(e instanceof KproxcError)) throw e
      this.io.stderr(`kproxc watch: sync failed: ${e.message}\n`)
    }
  }

  private async sync(): Promise<void> {
    if (this.pending.size === 0) return
    const batch = [...this.pending]
    const changes = batch.map(([, c]) => c)
    this.pending.clear()
    this.lastSync = Date.now()
    let model: ProxyModel | undefined
    let first = false
    if (!this.store) {
      const initial: LoadedObjects = { services: [], endpointSlices: [], nodes: [], serviceCIDRs: [], config: this.config, skippedKinds: {} }
      for (const c of changes) {
        if (c.op !== 'upsert') continue
        if (c.kind === 'Service') initial.services.push(c.object)
        else if (c.kind === 'EndpointSlice') initial.endpointSlices.push(c.object)
        else if (c.kind === 'Node') initial.nodes.push(c.object)
        else initial.serviceCIDRs?.push(c.object)
      }
      try {
        this.plan = watchFamilies(initial, this.flags, this.mode, Boolean(this.flags.apply))
        this.store = new ModelStore(modelOptions(this.flags, this.mode, this.plan.families), initial)
      } catch (e) {
        if (!(e instanceof KproxcError)) throw e
        // Typically: no Node yet. Keep the objects for the next batch.
        this.io.stderr(`kproxc watch: cannot build the model yet: ${e.message.split('\n')[0]}\n`)
        // Under their object's id, so a later event for the same object still replaces them.
        for (const [id, c] of batch) if (!this.pending.has(id)) this.pending.set(id, c)
        return
      }
      for (const family of this.plan.families) this.sessions.set(family, syncSession(this.mode, family, this.format, this.backendOptions))
      model = this.store.model
      first = true
    } else {
      model = this.applyChanges(this.store, changes)
    }
    const print = (this.plan as WatchFamilies).print
    const started = performance.now()
    const deltas = new Map<Family, OutputFile[]>()
    for (const [family, session] of this.sessions) {
      // A full apply compiles on its own: the first sync only primes the other families' sessions.
      if (first && family !== print) session.prime(model)
      else deltas.set(family, first ? session.full(model) : session.delta(model))
    }
    const files = deltas.get(print) ?? []
    const ms = performance.now() - started
    this.syncs++
    const bytes = files.reduce((n, f) => n + f.content.length, 0)
    this.io.stderr(`kproxc watch: sync ${this.syncs} (${first ? 'full' : 'partial'}): ${changes.length} object change${changes.length === 1 ? '' : 's'}, ${bytes} bytes of output, compiled in ${ms.toFixed(1)} ms\n`)
    if (files.length > 0) this.io.stdout(joinFiles(files, this.backend.multiFile))
    if (this.flags.apply) await this.applySync(model, first ? new Map() : deltas)
  }

  /**
   * kube-proxy's full and partial syncs: the delta alone when the kernel holds the previous state,
   * else (first sync, or the last apply failed) the whole ruleset with stale chains removed. Each
   * family's delta goes to its own tools; a failed one (in any family) is followed at once by a full
   * apply of every family in the same state, since the kernel then holds a state no delta starts from.
   */
  private async applySync(model: ProxyModel, deltas: ReadonlyMap<Family, readonly OutputFile[]>): Promise<void> {
    const families = (this.plan as WatchFamilies).families
    // A delta that restates a whole table (nftables, when the fixed part changed) would re-create it
    // and lose its affinity sets; the full apply below updates the table in place instead.
    const restated = this.needFullApply ? [] : families.filter((f) => deltas.has(f) && this.sessions.get(f)?.lastDeltaIsFull())
    if (restated.length > 0) {
      this.io.stderr(`kproxc watch: the ${restated.join(' and ')} delta restates the whole table: applying the full ruleset in place instead\n`)
      this.needFullApply = true
    }
    if (!this.needFullApply) {
      try {
        for (const family of families) {
          const files = deltas.get(family) ?? []
          if (files.length === 0) continue
          const report = await DELTA_APPLIERS[this.mode](files, family, this.format, this.runner)
          this.report(report.lines, family)
        }
        return
      } catch (e) {
        if (!(e instanceof KproxcError)) throw e
        this.io.stderr(`kproxc watch: partial apply failed, applying the full ruleset: ${e.message.split('\n')[0]}\n`)
        this.needFullApply = true
      }
    }
    const report = await APPLIERS[this.mode](model, { families, options: this.backendOptions, runner: this.runner })
    this.needFullApply = false
    this.report(report.lines)
  }

  /** An applier's report on stderr; a partial one names its family when several are programmed. */
  private report(lines: readonly string[], family?: Family): void {
    const prefix = family && (this.plan as WatchFamilies).families.length > 1 ? `${family}: ` : ''
    for (const line of lines) this.io.stderr(`kproxc watch: ${prefix}${line}\n`)
  }

  /** All changes at once; if the store refuses the batch, one by one, skipping those it refuses. */
  private applyChanges(store: ModelStore, changes: StoreChange[]): ProxyModel {
    try {
      return store.apply(changes).model
    } catch (e) {
      if (!(e instanceof KproxcError)) throw e
    }
    for (const c of changes) {
      try {
        store.apply([c])
      } catch (e) {
        if (!(e instanceof KproxcError)) throw e
        const what = c.op === 'upsert' ? `${c.kind} ${c.object.metadata.namespace ?? ''}/${c.object.metadata.name}` : `delete of ${c.kind} ${c.name}`
        this.io.stderr(`kproxc watch: ${what} refused, skipped: ${e.message.split('\n')[0]}\n`)
      }
    }
    return store.model
  }
}
