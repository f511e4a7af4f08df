// The cluster the browser tests drive: one nsqlookupd and two nsqd ($NSQLOOKUPD_BIN,
// $NSQD_BIN) on 127.0.0.1 port 0, and nsqadmin in front of them: ours ($NSQADMIN_BIN, extra
// flags from $NSQADMIN_ARGS) or, with NSQADMIN_DEV=1, the front end's dev server proxying to Go
// nsqadmin ($GO_NSQADMIN_BIN, default tests/reference/bin/nsqadmin). Addresses come from the
// "TCP/HTTP: listening on" log lines; readiness is GET /ping == 200. Also: a raw TCP consumer
// that stays subscribed with RDY 0, and small HTTP helpers.
'use strict'

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const http = require('node:http')
const net = require('node:net')

const REPO = path.resolve(__dirname, '..', '..')
// The raw consumer's user agent: markup and quotes, to prove the pages escape API text.
const USER_AGENT = 'nsq-browser-test/1.0 <b>bold</b> & "quoted"'
const STARTUP_MS = 20000
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// Retries `fn` until it returns a truthy value or the deadline passes; returns that value.
async function eventually (what, fn, timeoutMs = 15000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs
  let last
  for (;;) {
    try {
      const v = await fn()
      if (v) return v
      last = v
    } catch (e) { last = e }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${last && last.stack ? last.stack : JSON.stringify(last)}`)
    await pause(everyMs)
  }
}

function request (addr, method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: addr.host, port: addr.port, method, path: urlPath, timeout: 10000 }, (res) => {
      let data = ''
      res.on('data', (d) => { data += d })
      res.on('end', () => resolve({ status: res.statusCode, body: data }))
    })
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: timeout`)))
    req.end(body)
  })
}

async function getJson (addr, urlPath) {
  const res = await request(addr, 'GET', urlPath)
  if (res.status !== 200) throw new Error(`GET ${urlPath}: ${res.status} ${res.body}`)
  return JSON.parse(res.body)
}

async function post (addr, urlPath, body) {
  const res = await request(addr, 'POST', urlPath, body)
  if (res.status !== 200) throw new Error(`POST ${urlPath}: ${res.status} ${res.body}`)
  return res.body
}

async function ping (addr) {
  try { return (await request(addr, 'GET', '/ping')).status === 200 } catch (_) { return false }
}

function findAddr (log, marker) {
  const m = log.match(new RegExp(marker + '([0-9.]+):(\\d+)'))
  return m ? { host: m[1], port: Number(m[2]), toString () { return `${this.host}:${this.port}` } } : null
}

// Starts a process and waits for its "<MARKER>: listening on" lines and /ping.
async function startProc (name, bin, args, markers) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  let exited = null
  child.stdout.on('data', (d) => { log += d })
  child.stderr.on('data', (d) => { log += d })
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited) }))
  child.on('error', (e) => { log += `spawn error: ${e.message}\n`; exited = exited || { error: e.message } })
  const deadline = Date.now() + STARTUP_MS
  const addrs = {}
  while (markers.some((m) => !addrs[m])) {
    for (const m of markers) addrs[m] = addrs[m] || findAddr(log, `${m}: listening on `)
    if (exited) throw new Error(`${name} (${bin}) exited ${JSON.stringify(exited)} before listening:\n${log}`)
    if (Date.now() > deadline) throw new Error(`${name} did not listen in time:\n${log}`)
    await pause(20)
  }
  while (!(await ping(addrs.HTTP))) {
    if (exited) throw new Error(`${name} exited ${JSON.stringify(exited)}:\n${log}`)
    if (Date.now() > deadline) throw new Error(`${name}: GET /ping never answered 200:\n${log}`)
    await pause(20)
  }
  return {
    name,
    tcp: addrs.TCP,
    http: addrs.HTTP,
    output: () => log,
    async stop () {
      if (!exited) child.kill('SIGTERM')
      const t = setTimeout(() => { if (!exited) child.kill('SIGKILL') }, 10000)
      await exit
      clearTimeout(t)
    }
  }
}

function need (name) {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set (see tests/browser/README.md)`)
  return v
}

async function startCluster () {
  const procs = []
  const dirs = []
  const stop = async () => {
    for (const p of procs.reverse()) await p.stop()
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
  }
  try {
    const lookupd = await startProc('nsqlookupd', need('NSQLOOKUPD_BIN'),
      ['--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--broadcast-address=127.0.0.1'], ['TCP', 'HTTP'])
    procs.push(lookupd)
    const nsqds = []
    for (const i of [1, 2]) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nsq-browser-${i}-`))
      dirs.push(dir)
      const nsqd = await startProc(`nsqd${i}`, need('NSQD_BIN'), ['--tcp-address=127.0.0.1:0',
        '--http-address=127.0.0.1:0', `--data-path=${dir}`, '--broadcast-address=127.0.0.1',
        `--lookupd-tcp-address=${lookupd.tcp}`], ['TCP', 'HTTP'])
      procs.push(nsqd)
      nsqds.push(nsqd)
    }
    const dev = process.env.NSQADMIN_DEV === '1'
    let admin
    if (dev) {
      const goBin = process.env.GO_NSQADMIN_BIN || path.join(REPO, 'tests/reference/bin/nsqadmin')
      const goAdmin = await startProc('go-nsqadmin', goBin,
        ['--http-address=127.0.0.1:0', `--lookupd-http-address=${lookupd.http}`], ['HTTP'])
      procs.push(goAdmin)
      admin = await startProc('dev-server', process.execPath, [path.join(REPO, 'nsqadmin/static/dev-server.js'),
        `--upstream=${goAdmin.http}`, '--http-address=127.0.0.1:0', `--lookupd=${lookupd.http}`], ['HTTP'])
    } else {
      const extra = (process.env.NSQADMIN_ARGS || '').split(/\s+/).filter(Boolean)
      admin = await startProc('nsqadmin', need('NSQADMIN_BIN'),
        ['--http-address=127.0.0.1:0', `--lookupd-http-address=${lookupd.http}`, ...extra], ['HTTP'])
    }
    procs.push(admin)
    return { dev, lookupd, nsqds, admin, url: `http://${admin.http}/`, stop, logs: () => procs.map((p) => `--- ${p.name}\n${p.output()}`).join('\n') }
  } catch (e) {
    await stop()
    throw e
  }
}

// A raw NSQ consumer: V2 magic, IDENTIFY, SUB, RDY 0 (so depth stays), NOP on heartbeats.
function consumer (tcp, topic, channel, hostname) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(tcp.port, tcp.host)
    let buf = Buffer.alloc(0)
    let oks = 0
    sock.on('connect', () => {
      const ident = Buffer.from(JSON.stringify({ client_id: hostname, hostname, user_agent: USER_AGENT, feature_negotiation: false }))
      const len = Buffer.alloc(4)
      len.writeUInt32BE(ident.length)
      sock.write(Buffer.concat([Buffer.from('  V2IDENTIFY\n'), len, ident, Buffer.from(`SUB ${topic} ${channel}\nRDY 0\n`)]))
    })
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      while (buf.length >= 8) {
        const size = buf.readUInt32BE(0)
        if (buf.length < 4 + size) break
        const type = buf.readUInt32BE(4)
        const body = buf.subarray(8, 4 + size).toString()
        buf = buf.subarray(4 + size)
        if (type === 1) { reject(new Error(`consumer: ${body}`)); sock.destroy(); return }
        if (body === '_heartbeat_') sock.write('NOP\n')
        else if (body === 'OK' && ++oks === 2) resolve({ close: () => sock.destroy() }) // IDENTIFY, SUB
      }
    })
    sock.on('error', (e) => { if (oks < 2) reject(e) })
  })
}

module.exports = { startCluster, consumer, eventually, getJson, post, request, REPO, USER_AGENT }
