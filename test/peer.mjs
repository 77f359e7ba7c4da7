#!/usr/bin/env node
// Test peer run inside network namespaces.
//   serve --name N [--tcp P,P] [--udp P,P]   answer every connection/datagram with {"server","peer","port"}
//   probe --dst IP --port P [--proto tcp|udp] [--count N] [--timeout MS]   print one JSON array of results
import dgram from 'node:dgram'
import net from 'node:net'

const args = process.argv.slice(2)
const cmd = args.shift()
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : def
}
const ports = (s) => (s ? s.split(',').filter(Boolean).map(Number) : [])

if (cmd === 'serve') {
  const name = opt('name', 'server')
  const pending = []
  for (const port of ports(opt('tcp'))) {
    const srv = net.createServer((sock) => {
      sock.end(`${JSON.stringify({ server: name, peer: normalize(sock.remoteAddress), port })}\n`)
      sock.on('error', () => {})
    })
    pending.push(new Promise((res, rej) => srv.listen({ port, host: '::', ipv6Only: false }, res).on('error', rej)))
  }
  for (const port of ports(opt('udp'))) {
    const sock = dgram.createSocket({ type: 'udp6', ipv6Only: false })
    sock.on('message', (_m, rinfo) => {
      sock.send(`${JSON.stringify({ server: name, peer: normalize(rinfo.address), port })}\n`, rinfo.port, rinfo.address)
    })
    pending.push(new Promise((res, rej) => sock.bind(port, '::', res).on('error', rej)))
  }
  Promise.all(pending).then(
    () => process.stdout.write('ready\n'),
    (e) => {
      process.stderr.write(`serve failed: ${e.message}\n`)
      process.exit(1)
    },
  )
  // Never outlive the test that started us.
  setTimeout(() => process.exit(0), Number(opt('lifetime', '300000'))).unref?.()
} else if (cmd === 'probe') {
  const dst = opt('dst')
  const port = Number(opt('port'))
  const proto = opt('proto', 'tcp')
  const count = Math.min(Number(opt('count', '1')), 1000)
  const timeout = Number(opt('timeout', '1500'))
  const results = []
  for (let i = 0; i < count; i++) results.push(await (proto === 'udp' ? udp(dst, port, timeout) : tcp(dst, port, timeout)))
  process.stdout.write(`${JSON.stringify(results)}\n`)
} else {
  process.stderr.write('usage: peer.mjs serve|probe ...\n')
  process.exit(2)
}

function normalize(addr) {
  return addr?.startsWith('::ffff:') ? addr.slice(7) : addr
}

function tcp(host, port, timeout) {
  return new Promise((resolve) => {
    let data = ''
    const sock = net.connect({ host, port })
    const timer = setTimeout(() => {
      sock.destroy()
      resolve({ ok: false, error: 'timeout' })
    }, timeout)
    sock.on('data', (d) => (data += d))
    sock.on('end', () => {
      clearTimeout(timer)
      try {
        resolve({ ok: true, ...JSON.parse(data) })
      } catch {
        resolve({ ok: false, error: 'bad-reply' })
      }
    })
    sock.on('error', (e) => {
      clearTimeout(timer)
      resolve({ ok: false, error: e.code ?? e.message })
    })
  })
}

function udp(host, port, timeout) {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4')
    const timer = setTimeout(() => {
      sock.close()
      resolve({ ok: false, error: 'timeout' })
    }, timeout)
    sock.on('message', (m) => {
      clearTimeout(timer)
      sock.close()
      try {
        resolve({ ok: true, ...JSON.parse(m.toString()) })
      } catch {
        resolve({ ok: false, error: 'bad-reply' })
      }
    })
    sock.on('error', (e) => {
      clearTimeout(timer)
      sock.close()
      resolve({ ok: false, error: e.code ?? e.message })
    })
    sock.connect(port, host, () => sock.send('probe'))
  })
}
