#!/usr/bin/env node
// Recording fakes of ipvsadm, ip and sysctl (and plain recorders of any other tool) for apply tests.
// This kernel has no ip_vs and no dummy links, so these keep the state such a kernel would keep, in
// $FAKE_DIR/state.json, and log every call to $FAKE_DIR/log.jsonl. `ip` passes every command other
// than kube-ipvs0's to the real binary ($FAKE_REAL_IP); recorders print $FAKE_DIR/<tool>.out.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

const [tool, ...args] = process.argv.slice(2)
const dir = process.env.FAKE_DIR
const stdin = args.includes('-R') || args.includes('-batch') || tool.endsWith('-restore') || (tool === 'ipset' && args[0] === 'restore') || (tool === 'nft' && args.includes('-f'))
  ? readFileSync(0, 'utf8') : undefined
appendFileSync(join(dir, 'log.jsonl'), `${JSON.stringify({ tool, args, stdin })}\n`)
const statePath = join(dir, 'state.json')
const state = existsSync(statePath) ? JSON.parse(readFileSync(statePath, 'utf8')) : { services: [], link: false, addrs: [], sysctl: {} }
const save = () => writeFileSync(statePath, JSON.stringify(state))
const fail = (msg, code = 1) => { process.stderr.write(`${msg}\n`); process.exit(code) }

if (existsSync(join(dir, `${tool}.fail`))) fail(readFileSync(join(dir, `${tool}.fail`), 'utf8').trim(), 1)

if (tool === 'ipvsadm') {
  if (args[0] === '-S' && args[1] === '-n') {
    for (const s of state.services) {
      process.stdout.write(`${s.line}\n`)
      for (const r of s.reals) process.stdout.write(`-a ${s.id} -r ${r.addr} ${r.method} -w ${r.weight}\n`)
    }
    process.exit(0)
  }
  if (args.join(' ') === '-L -n') {
    // ipvsadm 1.31's list layout; the counters are what a test set with Fakes.setConnections.
    const PROTO = { '-t': 'TCP', '-u': 'UDP', '--sctp-service': 'SCTP' }
    const FORWARD = { '-m': 'Masq', '-g': 'Route', '-i': 'Tunnel' }
    process.stdout.write('IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n')
    for (const s of state.services) {
      const w = s.line.split(/\s+/)
      const persistent = w.includes('-p') ? ` persistent ${w[w.indexOf('-p') + 1]}` : ''
      process.stdout.write(`${PROTO[w[1]]}  ${w[2]} ${w[w.indexOf('-s') + 1]}${persistent}\n`)
      for (const r of s.reals) {
        process.stdout.write(`  -> ${r.addr.padEnd(28)} ${FORWARD[r.method].padEnd(7)} ${String(r.weight).padEnd(6)} ${String(r.active ?? 0).padEnd(10)} ${String(r.inactive ?? 0).padEnd(10)}\n`)
      }
    }
    process.exit(0)
  }
  if (args[0] !== '-R') fail(`fake ipvsadm: unsupported ${args.join(' ')}`, 2)
  let errors = ''
  for (const line of stdin.split('\n').filter((l) => l.trim() !== '')) {
    const w = line.trim().split(/\s+/)
    const cmd = w[0]
    const id = `${w[1]} ${w[2]}`
    const svc = state.services.find((s) => s.id === id)
    if (cmd === '--set') continue
    if (cmd === '-A') { if (svc) errors += 'Service already exists\n'; else state.services.push({ id, line, reals: [] }) }
    else if (cmd === '-E') { if (!svc) errors += 'No such service\n'; else svc.line = line.replace(/^-E /, '-A ') }
    else if (cmd === '-D') { if (!svc) errors += 'No such service\n'; else state.services = state.services.filter((s) => s !== svc) }
    else if (cmd === '-a' || cmd === '-e' || cmd === '-d') {
      const addr = w[w.indexOf('-r') + 1]
      if (!svc) { errors += 'No such service\n'; continue }
      const real = svc.reals.find((r) => r.addr === addr)
      const method = ['-m', '-g', '-i'].find((m) => w.includes(m)) ?? '-g'
      const weight = w.includes('-w') ? Number(w[w.indexOf('-w') + 1]) : 1
      if (cmd === '-a') { if (real) errors += 'Destination already exists\n'; else svc.reals.push({ addr, method, weight }) }
      else if (cmd === '-e') { if (!real) errors += 'No such destination\n'; else Object.assign(real, { method, weight }) }
      else if (!real) errors += 'No such destination\n'
      else svc.reals = svc.reals.filter((r) => r !== real)
    } else fail(`fake ipvsadm: unknown command ${cmd}`, 2)
  }
  save()
  if (errors) fail(errors.trim(), 1)
  process.exit(0)
}

if (tool === 'ip' && args.join(' ') === '-o addr show dev kube-ipvs0') {
  if (!state.link) fail('Device "kube-ipvs0" does not exist.')
  state.addrs.forEach((a, i) => process.stdout.write(`7: kube-ipvs0    ${a.includes(':') ? 'inet6' : 'inet'} ${a} scope global kube-ipvs0\\       valid_lft forever preferred_lft forever\n`))
  process.exit(0)
}
if (tool === 'ip' && args.join(' ') === 'link add kube-ipvs0 type dummy') {
  if (state.link) fail('RTNETLINK answers: File exists', 2)
  state.link = true
  save()
  process.exit(0)
}
if (tool === 'ip' && args[0] === '-batch') {
  for (const line of stdin.split('\n').filter((l) => l.trim() !== '')) {
    const [obj, op, addr, , dev] = line.trim().split(/\s+/)
    if (obj !== 'addr' || dev !== 'kube-ipvs0' || !state.link) fail(`fake ip: unsupported batch line ${line}`, 2)
    if (op === 'replace') { if (!state.addrs.includes(addr)) state.addrs.push(addr) }
    else if (op === 'del') { if (!state.addrs.includes(addr)) fail('RTNETLINK answers: Cannot assign requested address', 2); state.addrs = state.addrs.filter((a) => a !== addr) }
    else fail(`fake ip: unsupported batch line ${line}`, 2)
  }
  save()
  process.exit(0)
}
if (tool === 'ip') {
  const r = spawnSync(process.env.FAKE_REAL_IP ?? '/usr/sbin/ip', args, { stdio: 'inherit' })
  process.exit(r.status ?? 1)
}
if (tool === 'sysctl') {
  if (args[0] === '-n') { process.stdout.write(`${state.sysctl[args[1]] ?? '0'}\n`); process.exit(0) }
  if (args[0] === '-w') { const [k, v] = args[1].split('='); state.sysctl[k] = v; save(); process.stdout.write(`${k} = ${v}\n`); process.exit(0) }
  fail(`fake sysctl: unsupported ${args.join(' ')}`, 2)
}
// Any other tool: a recorder that prints its canned output.
const out = join(dir, `${tool}.out`)
if (existsSync(out)) process.stdout.write(readFileSync(out, 'utf8'))
process.exit(0)
