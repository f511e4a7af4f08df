#!/usr/bin/env node
// Development server for nsqadmin's front end (Node, no dependencies): serves index.html with
// its placeholders filled, static/app.js and static/app.css straight from this directory (edit
// and reload), proxies /api/* to a running nsqadmin (Go v1.3.0 or ours) and fakes
// /api/history/... with generated points, since Go nsqadmin has no history.
//
//   node nsqadmin/static/dev-server.js --upstream=127.0.0.1:4171 \
//     [--http-address=127.0.0.1:0] [--base-path=/] [--lookupd=127.0.0.1:4161 ...] \
//     [--not-admin] [--history-interval=5] [--no-fake-history]
//
// Prints "HTTP: listening on <addr>" like the daemons, and answers GET <base>ping with OK.
'use strict'

const http = require('node:http')
const fs = require('node:fs')
const path = require('node:path')

function parseArgs (argv) {
  const o = { upstream: '127.0.0.1:4171', httpAddress: '127.0.0.1:0', basePath: '/', lookupd: [], admin: true, historyInterval: 5, fakeHistory: true }
  for (const a of argv) {
    const [k, v] = a.replace(/^--/, '').split(/=(.*)/s)
    if (k === 'upstream') o.upstream = v
    else if (k === 'http-address') o.httpAddress = v
    else if (k === 'base-path') o.basePath = v
    else if (k === 'lookupd') o.lookupd.push(v)
    else if (k === 'not-admin') o.admin = false
    else if (k === 'history-interval') o.historyInterval = Number(v)
    else if (k === 'no-fake-history') o.fakeHistory = false // proxied: Go answers 404
    else throw new Error(`unknown argument ${a}`)
  }
  if (!o.basePath.startsWith('/')) o.basePath = '/' + o.basePath
  if (!o.basePath.endsWith('/')) o.basePath += '/'
  return o
}

const opts = parseArgs(process.argv.slice(2))
const BASE = opts.basePath
const DIR = __dirname
const TYPES = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' }

function indexHtml () {
  const config = {
    base_path: BASE,
    version: '1.3.0',
    user_agent: 'nsqadmin/v1.3.0',
    is_admin: opts.admin,
    graphite_url: '',
    graph_enabled: false,
    nsqlookupd: opts.lookupd,
    history_interval: opts.historyInterval
  }
  // `<` escaped so no API-independent string can close the script element.
  const json = JSON.stringify(config).replace(/</g, '\\u003c')
  return fs.readFileSync(path.join(DIR, 'index.html'), 'utf8')
    .replace('{{NSQADMIN_CONFIG}}', json)
    .replaceAll('{{BASE_PATH}}', BASE)
}

// One hour of made-up samples every history_interval seconds: a smooth wave with noise, so
// the charts have something to draw while developing against Go nsqadmin.
function fakeHistory (topic, channel) {
  const every = opts.historyInterval
  const now = Math.floor(Date.now() / 1000)
  const n = Math.floor(3600 / every)
  const points = []
  for (let i = n - 1; i >= 0; i--) {
    const t = now - i * every
    const phase = t / 300
    const rateIn = Math.max(0, 40 + 25 * Math.sin(phase) + 8 * Math.sin(phase * 7.3))
    const rateOut = Math.max(0, rateIn * (0.9 + 0.1 * Math.cos(phase * 3)))
    points.push({
      t,
      depth: Math.round(Math.max(0, 200 + 150 * Math.sin(phase / 2))),
      in_flight: Math.round(Math.max(0, 10 + 8 * Math.cos(phase * 1.7))),
      deferred: 0,
      rate_in: Math.round(rateIn * 100) / 100,
      rate_out: Math.round(rateOut * 100) / 100
    })
  }
  return { topic, channel, interval: every, points, message: '' }
}

function proxy (req, res, upstreamPath) {
  const [host, port] = [opts.upstream.replace(/:\d+$/, ''), Number(opts.upstream.split(':').pop())]
  const headers = { ...req.headers, host: opts.upstream }
  delete headers['accept-encoding']
  const up = http.request({ host, port, method: req.method, path: upstreamPath, headers }, (ur) => {
    res.writeHead(ur.statusCode, ur.headers)
    ur.pipe(res)
  })
  up.on('error', (e) => {
    res.writeHead(502, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify({ message: `dev-server: upstream ${opts.upstream}: ${e.message}` }))
  })
  req.pipe(up)
}

const PAGES = [/^$/, /^topics$/, /^topics\/[^/]+$/, /^topics\/[^/]+\/[^/]+$/, /^nodes$/, /^nodes\/[^/]+$/, /^counter$/, /^lookup$/]

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://dev')
  if (!url.pathname.startsWith(BASE) && url.pathname + '/' !== BASE) {
    res.writeHead(404, { 'Content-Type': 'text/plain' })
    return res.end('404 page not found\n')
  }
  const rest = url.pathname.slice(BASE.length)
  const hist = rest.match(/^api\/history\/topics\/([^/]+)(?:\/([^/]+))?$/)
  if (hist && req.method === 'GET' && opts.fakeHistory) {
    res.writeHead(200, { 'Content-Type': 'application/json' })
    return res.end(JSON.stringify(fakeHistory(decodeURIComponent(hist[1]), decodeURIComponent(hist[2] || ''))))
  }
  if (rest.startsWith('api/')) return proxy(req, res, '/' + rest + url.search)
  if (rest === 'ping') { res.writeHead(200, { 'Content-Type': 'text/plain' }); return res.end('OK') }
  const asset = rest.match(/^static\/(app\.js|app\.css)$/)
  if (asset && req.method === 'GET') {
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(asset[1])] })
    return res.end(fs.readFileSync(path.join(DIR, asset[1])))
  }
  if (req.method === 'GET' && PAGES.some((re) => re.test(rest))) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
    return res.end(indexHtml())
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' })
  res.end('404 page not found\n')
})

const [h, p] = [opts.httpAddress.replace(/:\d+$/, ''), Number(opts.httpAddress.split(':').pop())]
server.listen(p, h, () => {
  const a = server.address()
  console.log(`HTTP: listening on ${a.address}:${a.port}`)
})
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeAllConnections() })
