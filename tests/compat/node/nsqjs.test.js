// nsqjs (the Node.js client, pinned in package.json) against our nsqd: a Writer's
// publish and MPUB reach a Reader intact and exactly once when FINished; a requeued
// message comes back with attempts 2; deflate negotiated by the Reader carries the
// same messages (nsqd's /stats shows it negotiated); /stats agrees with what the client
// saw. Runs against any nsqd: NSQD_BIN=tests/reference/bin/nsqd checks the suite on Go.
'use strict'

const { test } = require('node:test')
const assert = require('node:assert/strict')
const nsq = require('nsqjs')
const { startNsqd, getJson } = require('./nsqd')

const TIMEOUT_MS = 30000

function writer (nsqd) {
  return new Promise((resolve, reject) => {
    const w = new nsq.Writer(nsqd.tcp.host, nsqd.tcp.port)
    w.on('ready', () => resolve(w))
    w.on('error', reject)
    w.connect()
  })
}

function publish (w, topic, msgs) {
  return new Promise((resolve, reject) => w.publish(topic, msgs, (err) => err ? reject(err) : resolve()))
}

// Consumes until `done(received)` is true; `onMessage` decides FIN or REQ.
function consume (nsqd, topic, channel, options, onMessage, done) {
  return new Promise((resolve, reject) => {
    const r = new nsq.Reader(topic, channel, {
      nsqdTCPAddresses: [`${nsqd.tcp.host}:${nsqd.tcp.port}`],
      maxInFlight: 50,
      ...options
    })
    const received = []
    const timer = setTimeout(() => {
      r.close()
      reject(new Error(`timed out with ${received.length} messages; nsqd output:\n${nsqd.output()}`))
    }, TIMEOUT_MS)
    r.on('message', (msg) => {
      received.push({ body: msg.body.toString(), attempts: msg.attempts, id: msg.id })
      onMessage(msg)
      if (done(received)) {
        clearTimeout(timer)
        // Let the last FIN go out before closing.
        setImmediate(() => { r.close(); resolve(received) })
      }
    })
    r.on('error', (err) => { clearTimeout(timer); r.close(); reject(err) })
    r.connect()
  })
}

async function withNsqd (args, fn) {
  const nsqd = await startNsqd(args)
  try {
    await fn(nsqd)
  } finally {
    const status = await nsqd.stop()
    assert.equal(status.code, 0, `nsqd exit after SIGTERM: ${JSON.stringify(status)}\n${nsqd.output()}`)
  }
}

test('publish and MPUB from a Writer reach a Reader intact, once each', () =>
  withNsqd([], async (nsqd) => {
    const w = await writer(nsqd)
    const bodies = Array.from({ length: 200 }, (_, i) => `node-${i}-${'x'.repeat(i % 37)}`)
    await publish(w, 'node_pub', bodies[0])
    await publish(w, 'node_pub', bodies.slice(1))
    w.close()
    const got = await consume(nsqd, 'node_pub', 'ch', {}, (m) => m.finish(),
      (rx) => rx.length >= bodies.length)
    assert.deepEqual(got.map((m) => m.body).sort(), [...bodies].sort())
    assert.ok(got.every((m) => m.attempts === 1))
    const stats = await getJson(nsqd.http, '/stats?format=json&topic=node_pub')
    const topic = stats.topics.find((t) => t.topic_name === 'node_pub')
    assert.equal(topic.message_count, bodies.length)
  }))

test('a requeued message is delivered again with attempts 2', () =>
  withNsqd([], async (nsqd) => {
    const w = await writer(nsqd)
    await publish(w, 'node_req', ['again'])
    w.close()
    let first = true
    const got = await consume(nsqd, 'node_req', 'ch', {}, (m) => {
      if (first) { first = false; m.requeue(0, false) } else m.finish()
    }, (rx) => rx.length >= 2)
    assert.deepEqual(got.map((m) => [m.body, m.attempts]), [['again', 1], ['again', 2]])
    assert.equal(got[0].id, got[1].id)
    const stats = await getJson(nsqd.http, '/stats?format=json&topic=node_req')
    const channel = stats.topics[0].channels.find((c) => c.channel_name === 'ch')
    assert.equal(channel.requeue_count, 1)
  }))

test('deflate negotiated by the Reader carries every message', () =>
  withNsqd([], async (nsqd) => {
    const w = await writer(nsqd)
    const bodies = Array.from({ length: 100 }, (_, i) => `deflated-${i}-${'y'.repeat(200)}`)
    await publish(w, 'node_deflate', bodies)
    w.close()
    let connected = null
    const got = await consume(nsqd, 'node_deflate', 'ch', { deflate: true, deflateLevel: 6 },
      (m) => {
        if (connected) return m.finish()
        // While the Reader is connected, nsqd's view of it: FIN after the look.
        connected = getJson(nsqd.http, '/stats?format=json&topic=node_deflate')
          .finally(() => m.finish())
      }, (rx) => rx.length >= bodies.length)
    assert.deepEqual(got.map((m) => m.body).sort(), [...bodies].sort())
    const clients = (await connected).topics[0].channels[0].clients
    assert.equal(clients.length, 1)
    assert.equal(clients[0].deflate, true)
    assert.equal(clients[0].snappy, false)
  }))
