// The nsqd under test ($NSQD_BIN) for the nsqjs suite: started on 127.0.0.1 port 0 with
// a fresh data dir, its bound addresses read from the startup log, ready once GET /ping
// answers 200; stopped with SIGTERM (exit status checked by the caller).
'use strict'

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const http = require('node:http')

const STARTUP_MS = 20000

function findAddr (log, marker) {
  const m = log.match(new RegExp(marker + '([0-9.]+):(\\d+)'))
  return m ? { host: m[1], port: Number(m[2]) } : null
}

function ping (addr) {
  return new Promise((resolve) => {
    const req = http.get({ host: addr.host, port: addr.port, path: '/ping', timeout: 2000 },
      (res) => { res.resume(); resolve(res.statusCode === 200) })
    req.on('error', () => resolve(false))
    req.on('timeout', () => { req.destroy(); resolve(false) })
  })
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function startNsqd (extraArgs = []) {
  const bin = process.env.NSQD_BIN
  if (!bin) throw new Error('NSQD_BIN is not set')
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsq-node-'))
  const child = spawn(bin, ['--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0',
    `--data-path=${dataDir}`, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  let exited = null
  child.stdout.on('data', (d) => { log += d })
  child.stderr.on('data', (d) => { log += d })
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => {
    exited = { code, signal }
    resolve(exited)
  }))
  const deadline = Date.now() + STARTUP_MS
  let tcp, web
  while (!(tcp && web)) {
    tcp = findAddr(log, 'TCP: listening on ')
    web = findAddr(log, 'HTTP: listening on ')
    if (exited) throw new Error(`nsqd exited ${JSON.stringify(exited)} before listening:\n${log}`)
    if (Date.now() > deadline) throw new Error(`nsqd did not listen in time:\n${log}`)
    await pause(20)
  }
  while (!(await ping(web))) {
    if (Date.now() > deadline) throw new Error(`GET /ping never answered 200:\n${log}`)
    await pause(20)
  }
  return {
    tcp,
    http: web,
    output: () => log,
    async stop () {
      if (!exited) child.kill('SIGTERM')
      const status = await exit
      fs.rmSync(dataDir, { recursive: true, force: true })
      return status
    }
  }
}

function getJson (addr, urlPath) {
  return new Promise((resolve, reject) => {
    http.get({ host: addr.host, port: addr.port, path: urlPath }, (res) => {
      let body = ''
      res.on('data', (d) => { body += d })
      res.on('end', () => {
        try { resolve(JSON.parse(body)) } catch (e) { reject(new Error(`${urlPath}: ${body}`)) }
      })
    }).on('error', reject)
  })
}

module.exports = { startNsqd, getJson }
