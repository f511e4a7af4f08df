// nsqadmin's pages in a real browser (Debian's chromium, driven by playwright-core) against a
// real cluster (cluster.js): the topics page lists a published topic; the channel page shows
// depth and a connected client; pause/unpause, empty and delete through the confirm dialog
// change nsqd's /stats; a node's topic tombstoned from the topic page leaves lookupd and that
// nsqd; create and delete through the Lookup page; the nodes, node and counter pages; the
// history chart shows a nonzero rate after traffic (ours only); a 375 px window has no
// horizontal page overflow. Screenshots go to tests/browser/artifacts/.
'use strict'

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { chromium } = require('playwright-core')
const { startCluster, consumer, eventually, getJson, post, REPO, USER_AGENT } = require('./cluster')

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const ARTIFACTS = path.join(__dirname, 'artifacts')
const TOPIC = 'br_orders'
const CHANNEL = 'billing'
const DEPTH = 5

let cluster, browser, page, sub
const pageErrors = []

// The browser may still be being installed when the suite starts: poll for it, never download.
async function chromiumPath () {
  return eventually(`${CHROMIUM} to exist`, () => fs.existsSync(CHROMIUM) && CHROMIUM, 300000, 1000)
}

async function shot (name, p = page) {
  await p.screenshot({ path: path.join(ARTIFACTS, name + '.png'), fullPage: true })
}

// Opens a page (again and again, since lookupd learns of new topics asynchronously) until
// `selector` is on it.
async function openUntil (urlPath, selector, timeoutMs = 15000, p = page) {
  await eventually(`${selector} on ${urlPath}`, async () => {
    await p.goto(cluster.url + urlPath)
    return p.locator(selector).first().waitFor({ timeout: 1000 }).then(() => true, () => false)
  }, timeoutMs, 50)
}

async function channelStats (nsqd, topic, channel) {
  const s = await getJson(nsqd.http, `/stats?format=json&topic=${topic}&channel=${channel}`)
  const t = (s.topics || []).find((x) => x.topic_name === topic)
  return t && (t.channels || []).find((c) => c.channel_name === channel)
}

// Clicks an action button, accepting its confirm dialog; returns the dialog's text.
async function clickConfirmed (selector) {
  const dialog = new Promise((resolve) => page.once('dialog', (d) => { resolve(d.message()); d.accept() }))
  await page.locator(selector).click()
  return dialog
}

const cellText = (row, field) => page.locator(`[data-testid="${row}"] [data-field="${field}"]`).first().innerText()

describe('nsqadmin in a browser', () => {
  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true })
    cluster = await startCluster()
    browser = await chromium.launch({ executablePath: await chromiumPath(), headless: true, args: ['--no-sandbox'] })
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.on('pageerror', (e) => pageErrors.push(e.message))
    const [n1] = cluster.nsqds
    await post(n1.http, `/topic/create?topic=${TOPIC}`, '')
    sub = await consumer(n1.tcp, TOPIC, CHANNEL, 'browser-test')
    await post(n1.http, `/mpub?topic=${TOPIC}`, Array.from({ length: DEPTH }, (_, i) => `m${i}`).join('\n'))
  })

  after(async () => {
    if (sub) sub.close()
    if (browser) await browser.close()
    if (cluster) await cluster.stop()
  })

  test('the topics page lists the topic the test published to', async () => {
    await openUntil('', `[data-testid="topic-row-${TOPIC}"]`)
    const a = page.locator(`[data-testid="topic-row-${TOPIC}"] a`)
    assert.equal(await a.getAttribute('href'), `/topics/${TOPIC}`)
    await shot('topics')
  })

  test('the topic page shows the producer, the channel and the history section', async () => {
    const [n1] = cluster.nsqds
    await openUntil(`topics/${TOPIC}`, `[data-testid="channel-row-${CHANNEL}"]`)
    assert.equal(await cellText(`node-row-${n1.http}`, 'message_count'), String(DEPTH))
    assert.equal(await cellText(`channel-row-${CHANNEL}`, 'depth'), String(DEPTH))
    assert.equal(await cellText(`channel-row-${CHANNEL}`, 'client_count'), '1')
    await page.locator('#history > *').first().waitFor()
    await shot('topic')
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') {
      fs.mkdirSync(path.join(REPO, 'docs'), { recursive: true })
      fs.copyFileSync(path.join(ARTIFACTS, 'topic.png'), path.join(REPO, 'docs', 'nsqadmin-topic.png'))
    }
  })

  test('the channel page shows depth and the connected client', async () => {
    await openUntil(`topics/${TOPIC}/${CHANNEL}`, '[data-testid="clients"]')
    assert.equal(await cellText('total-row', 'depth'), String(DEPTH))
    const client = page.locator('[data-testid="clients"] tbody tr')
    assert.equal(await client.count(), 1)
    assert.match(await client.locator('[data-field="client_host"]').innerText(), /^browser-test:\d+$/)
    // Shown as text, not markup: the API's strings are escaped.
    assert.equal(await client.locator('[data-field="user_agent"]').innerText(), USER_AGENT)
    assert.equal(await client.locator('[data-field="user_agent"] b').count(), 0)
    await shot('channel')
  })

  test('a 375 px wide window renders the channel page without horizontal page overflow', async () => {
    const narrow = await browser.newPage({ viewport: { width: 375, height: 812 } })
    try {
      await openUntil(`topics/${TOPIC}/${CHANNEL}`, '[data-testid="clients"]', 15000, narrow)
      const { scroll, client } = await narrow.evaluate(() => ({
        scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth
      }))
      assert.ok(scroll <= client, `page is ${scroll}px wide in a ${client}px window`)
      await shot('channel-narrow', narrow)
    } finally {
      await narrow.close()
    }
  })

  test('pause and unpause the channel through the confirm dialog', async () => {
    const [n1] = cluster.nsqds
    await openUntil(`topics/${TOPIC}/${CHANNEL}`, '[data-action="pause-channel"]')
    const q = await clickConfirmed('[data-action="pause-channel"]')
    assert.match(q, new RegExp(`pause channel "${TOPIC}/${CHANNEL}"`))
    await eventually('nsqd to report the channel paused', async () => (await channelStats(n1, TOPIC, CHANNEL)).paused === true)
    await page.locator('[data-action="unpause-channel"]').waitFor()
    await page.locator('h2 [data-field="paused"]').waitFor()
    await clickConfirmed('[data-action="unpause-channel"]')
    await eventually('nsqd to report the channel unpaused', async () => (await channelStats(n1, TOPIC, CHANNEL)).paused === false)
    await page.locator('[data-action="pause-channel"]').waitFor()
  })

  test('empty the channel through the confirm dialog', async () => {
    const [n1] = cluster.nsqds
    assert.equal((await channelStats(n1, TOPIC, CHANNEL)).depth, DEPTH)
    await openUntil(`topics/${TOPIC}/${CHANNEL}`, '[data-action="empty-channel"]')
    await clickConfirmed('[data-action="empty-channel"]')
    await eventually('nsqd to report depth 0', async () => (await channelStats(n1, TOPIC, CHANNEL)).depth === 0)
    await eventually('the page to show depth 0', async () => (await cellText('total-row', 'depth')) === '0')
  })

  test('delete the channel through the confirm dialog', async () => {
    const [n1] = cluster.nsqds
    await openUntil(`topics/${TOPIC}/${CHANNEL}`, '[data-action="delete-channel"]')
    await clickConfirmed('[data-action="delete-channel"]')
    await eventually('the channel to leave nsqd', async () => (await channelStats(n1, TOPIC, CHANNEL)) === undefined)
    await eventually('the topic page to be shown', () => page.url() === `${cluster.url}topics/${TOPIC}`)
    await page.locator('[data-testid="no-channels"]').waitFor()
  })

  test("tombstone one node's topic from the topic page", async () => {
    const [n1, n2] = cluster.nsqds
    const topic = 'br_tomb'
    for (const n of [n1, n2]) await post(n.http, `/pub?topic=${topic}`, 'x')
    const producers = async () => (await getJson(cluster.lookupd.http, `/lookup?topic=${topic}`)).producers.map((p) => p.http_port)
    await eventually('lookupd to list both producers', async () => (await producers()).length === 2)
    await openUntil(`topics/${topic}`, `[data-testid="node-row-${n2.http}"] [data-action="tombstone-topic"]`)
    const q = await clickConfirmed(`[data-testid="node-row-${n2.http}"] [data-action="tombstone-topic"]`)
    assert.match(q, new RegExp(`tombstone topic "${topic}" on node ${n2.http}`))
    await eventually('lookupd to stop listing the tombstoned producer', async () => {
      const ps = await producers()
      return !ps.includes(n2.http.port) && ps.includes(n1.http.port)
    })
    const topicsOn = async (n) => ((await getJson(n.http, '/stats?format=json')).topics || []).map((t) => t.topic_name)
    await eventually('the topic to be deleted on the tombstoned node', async () => !(await topicsOn(n2)).includes(topic))
    assert.ok((await topicsOn(n1)).includes(topic), 'the other node keeps the topic')
  })

  test('the nodes and node pages list both nsqd and their topics', async () => {
    const [n1, n2] = cluster.nsqds
    await openUntil('nodes', `[data-testid="node-row-${n2.http}"]`)
    assert.equal(await cellText(`node-row-${n1.http}`, 'http_port'), String(n1.http.port))
    assert.equal(await cellText(`node-row-${n1.http}`, 'lookupd_conns'), '1')
    await shot('nodes')
    await page.locator(`[data-testid="node-row-${n1.http}"] a[href="/nodes/${n1.http}"]`).click()
    await page.locator(`[data-testid="node-topic-row-${TOPIC}"]`).waitFor()
    assert.equal(await cellText(`node-topic-row-${TOPIC}`, 'message_count'), String(DEPTH))
    await shot('node')
  })

  test('the counter page shows the total of processed messages', async () => {
    const counter = await getJson(cluster.admin.http, '/api/counter')
    const expected = Object.values(counter.stats).reduce((s, c) => s + c.message_count, 0)
    await page.goto(cluster.url + 'counter')
    await eventually('the counter to show the total', async () =>
      (await page.locator('[data-testid="counter"]').getAttribute('data-total')) === String(expected))
    await shot('counter')
  })

  test('create a topic and channel on the lookup page, then delete them there', async () => {
    const topic = 'br_created'
    await page.goto(cluster.url + 'lookup')
    await page.locator('[data-testid="lookupd-hosts"]').waitFor()
    assert.equal(await page.locator('[data-testid="lookupd-hosts"] li').innerText(), String(cluster.lookupd.http))
    await page.fill('[data-testid="create-form"] input[name="topic"]', topic)
    await page.fill('[data-testid="create-form"] input[name="channel"]', 'ch1')
    await page.click('[data-testid="create-form"] [data-action="create"]')
    const lookupTopics = async () => (await getJson(cluster.lookupd.http, '/topics')).topics || []
    await eventually('lookupd to know the created topic', async () => (await lookupTopics()).includes(topic))
    await page.locator(`[data-testid="inactive-channel-${topic}/ch1"]`).waitFor()
    await shot('lookup')
    await clickConfirmed(`[data-testid="inactive-topic-${topic}"] > [data-action="delete-inactive-topic"]`)
    await eventually('lookupd to forget the topic', async () => !(await lookupTopics()).includes(topic))
    await page.locator(`[data-testid="inactive-topic-${topic}"]`).waitFor({ state: 'detached' })
  })

  test('the history chart shows a nonzero rate after traffic', async (t) => {
    if (cluster.dev) {
      t.skip('NSQADMIN_DEV=1: Go nsqadmin has no history API (the dev server fakes it), so there is nothing real to check')
      return
    }
    const [n1] = cluster.nsqds
    const topic = 'br_hist'
    await post(n1.http, `/pub?topic=${topic}`, 'first')
    await page.goto(cluster.url + `topics/${topic}`)
    // Publish a little traffic while polling the chart (bounded: stops at the deadline).
    let rate = 0
    await eventually('the rates chart to show a nonzero rate', async () => {
      await post(n1.http, `/mpub?topic=${topic}`, 'a\nb\nc\nd\ne')
      const svg = page.locator('[data-testid="history-chart"][data-chart="rates"]')
      if (await svg.count() === 0) return false
      rate = Number(await svg.getAttribute('data-max'))
      return rate > 0
    }, 90000, 250)
    assert.ok(rate > 0)
    await shot('topic-history')
  })

  test('no script errors on any page', () => {
    assert.deepEqual(pageErrors, [])
  })
})
