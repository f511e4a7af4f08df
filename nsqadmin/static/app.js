// nsqadmin's front end: a small client-side router over location.pathname (minus base_path)
// rendering the Streams, Topic, Channel, Nodes, Node, Counter and Lookup pages from the JSON
// API, the admin actions behind confirm dialogs, and the history charts drawn as inline SVG.
// Plain JavaScript, no framework and no build step; nothing is fetched but our own API.
'use strict'

;(function () {
  // ---------------------------------------------------------------- config
  const CFG = Object.assign({
    base_path: '/',
    version: '',
    user_agent: 'nsqadmin',
    is_admin: false,
    graphite_url: '',
    graph_enabled: false,
    nsqlookupd: [],
    history_interval: 5
  }, window.NSQADMIN || {})
  const BASE = String(CFG.base_path).endsWith('/') ? String(CFG.base_path) : CFG.base_path + '/'
  const LOOKUPDS = Array.isArray(CFG.nsqlookupd) ? CFG.nsqlookupd : []
  const API_TIMEOUT_MS = 20000

  // ---------------------------------------------------------------- HTML escaping and templates
  // html`...` escapes every interpolated value unless it is itself html`` output (Raw); arrays
  // are joined; null, undefined and false render as nothing.
  class Raw { constructor (s) { this.s = s } toString () { return this.s } }
  const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ESC[c])
  const show = (v) => {
    if (v instanceof Raw) return v.s
    if (Array.isArray(v)) return v.map(show).join('')
    if (v === null || v === undefined || v === false) return ''
    return esc(v)
  }
  function html (strings, ...vals) {
    let out = strings[0]
    vals.forEach((v, i) => { out += show(v) + strings[i + 1] })
    return new Raw(out)
  }

  // ---------------------------------------------------------------- formatting
  const num = (n) => (typeof n === 'number' ? n : 0).toLocaleString('en-US')
  const seg = (s) => encodeURIComponent(s).replace(/%3A/gi, ':')
  const href = (...parts) => BASE + parts.map(seg).join('/')
  const link = (text, ...parts) => html`<a data-link href="${href(...parts)}">${text}</a>`
  const pausedLabel = (p) => p ? html`<span class="label paused" data-field="paused">paused</span>` : ''
  const cell = (field, n) => html`<td class="num" data-field="${field}">${num(n)}</td>`
  const memDisk = (o) => html`<td class="num" data-field="memory_backend">${num(o.memory_depth)} + ${num(o.backend_depth)}</td>`
  const table = (testid, head, rows, cls) => html`<div class="table-wrap"><table data-testid="${testid}" class="${cls}">
    <thead><tr>${head.map((h) => h.startsWith('#') ? html`<th class="num">${h.slice(1)}</th>` : html`<th>${h}</th>`)}</tr></thead>
    <tbody>${rows}</tbody></table></div>`

  function duration (ns) {
    let s = Math.floor((ns || 0) / 1e9)
    const parts = []
    for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]]) {
      if (s >= size) { parts.push(Math.floor(s / size) + unit); s %= size }
    }
    parts.push(s + 's')
    return parts.slice(0, 2).join(' ')
  }
  function latency (ns) {
    if (ns >= 1e9) return (ns / 1e9).toFixed(2) + 's'
    if (ns >= 1e6) return (ns / 1e6).toFixed(1) + 'ms'
    if (ns >= 1e3) return (ns / 1e3).toFixed(1) + 'µs'
    return Math.round(ns) + 'ns'
  }
  // E2E processing latency percentiles as "p99 1.2ms, p50 0.4ms" (value per quantile).
  function e2e (o) {
    const ps = (o && o.e2e_processing_latency && o.e2e_processing_latency.percentiles) || []
    if (!ps.length) return html`<td data-field="e2e" class="muted">–</td>`
    const txt = ps.slice().sort((a, b) => b.quantile - a.quantile)
      .map((p) => 'p' + +(p.quantile * 100).toFixed(2) + ' ' + latency(p.value)).join(', ')
    return html`<td data-field="e2e">${txt}</td>`
  }
  // broadcast_address:http_port, with IPv6 in brackets (as Go's net.JoinHostPort).
  const hostPort = (h, p) => (String(h).includes(':') ? `[${h}]` : h) + ':' + p

  // ---------------------------------------------------------------- API client and banner
  // Every call sends the NSQ Accept header and gives up after 20 s; the answer's `message`
  // is shown as an error banner on non-2xx and as a warning banner when non-empty on 2xx.
  async function api (method, path, body) {
    const ctl = new AbortController()
    const timer = setTimeout(() => ctl.abort(), API_TIMEOUT_MS)
    try {
      const res = await fetch(BASE + 'api/' + path, {
        method,
        headers: {
          Accept: 'application/vnd.nsq; version=1.0',
          'X-UserAgent': CFG.user_agent,
          'Content-Type': 'application/json'
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: ctl.signal
      })
      const text = await res.text()
      let data
      try { data = text ? JSON.parse(text) : {} } catch (_) { data = { message: text } }
      if (data === null || typeof data !== 'object') data = { message: String(text) }
      return { ok: res.ok, status: res.status, data }
    } catch (e) {
      const message = e.name === 'AbortError' ? `request timed out after ${API_TIMEOUT_MS / 1000}s` : String(e.message || e)
      return { ok: false, status: 0, data: { message } }
    } finally {
      clearTimeout(timer)
    }
  }

  const bannerEl = () => document.getElementById('banner')
  function clearBanner () { const b = bannerEl(); b.hidden = true; b.textContent = ''; b.className = '' }
  function banner (kind, text) { const b = bannerEl(); b.className = kind; b.textContent = text; b.hidden = false }
  // Shows the result's message (if any) and says whether the call succeeded.
  function report (res) {
    const msg = res.data && res.data.message
    if (!res.ok) banner('error', msg || `HTTP ${res.status || 'error'}`)
    else if (msg) banner('warning', msg)
    return res.ok
  }

  // ---------------------------------------------------------------- router
  // Each navigation bumps `generation`; timers registered with `onLeave` stop when the page
  // changes, and a late answer for an old page is dropped.
  let generation = 0
  let leaveHooks = []
  const onLeave = (fn) => leaveHooks.push(fn)
  const appEl = () => document.getElementById('app')

  function routeOf (pathname) {
    let rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : (pathname + '/' === BASE ? '' : pathname.replace(/^\//, ''))
    rest = rest.replace(/\/+$/, '')
    const parts = rest === '' ? [] : rest.split('/').map((p) => { try { return decodeURIComponent(p) } catch (_) { return p } })
    const [a, b, c] = parts
    if (parts.length === 0 || (a === 'topics' && parts.length === 1)) return { nav: 'topics', page: topicsPage, args: [] }
    if (a === 'topics' && parts.length === 2) return { nav: 'topics', page: topicPage, args: [b] }
    if (a === 'topics' && parts.length === 3) return { nav: 'topics', page: channelPage, args: [b, c] }
    if (a === 'nodes' && parts.length === 1) return { nav: 'nodes', page: nodesPage, args: [] }
    if (a === 'nodes' && parts.length === 2) return { nav: 'nodes', page: nodePage, args: [b] }
    if (a === 'counter' && parts.length === 1) return { nav: 'counter', page: counterPage, args: [] }
    if (a === 'lookup' && parts.length === 1) return { nav: 'lookup', page: lookupPage, args: [] }
    return { nav: '', page: notFoundPage, args: [] }
  }

  async function route () {
    const gen = ++generation
    leaveHooks.forEach((fn) => fn())
    leaveHooks = []
    clearBanner()
    const r = routeOf(location.pathname)
    document.querySelectorAll('[data-nav]').forEach((a) => a.classList.toggle('active', a.dataset.nav === r.nav))
    const ctx = {
      gen,
      live: () => gen === generation,
      render: (h) => { if (gen === generation) appEl().innerHTML = show(h) }
    }
    try {
      await r.page(ctx, ...r.args)
    } catch (e) {
      if (ctx.live()) banner('error', 'page error: ' + (e && e.message ? e.message : e))
    }
  }

  function navigate (url) {
    history.pushState(null, '', url)
    return route()
  }

  // Loads one API resource for a page; renders the error page body when it failed.
  async function load (ctx, path, title) {
    const res = await api('GET', path)
    if (!ctx.live()) return null
    report(res)
    if (!res.ok) {
      ctx.render(html`<h2>${title}</h2><p class="muted" data-testid="load-error">Could not load ${path}.</p>`)
      return null
    }
    return res.data
  }

  // ---------------------------------------------------------------- admin actions
  // Destructive actions ask window.confirm first; on success the page is rendered again
  // (or, after a delete, the parent page is shown), keeping any warning the API returned.
  async function act (question, method, path, body, after) {
    if (question && !window.confirm(question)) return
    const res = await api(method, path, body)
    if (!res.ok) { report(res); return }
    if (after) history.pushState(null, '', after)
    await route()
    report(res)
  }

  const ACTIONS = {
    'empty-topic': (d) => act(`Are you sure you want to empty topic "${d.topic}"?`, 'POST', 'topics/' + seg(d.topic), { action: 'empty' }),
    'pause-topic': (d) => act(`Are you sure you want to pause topic "${d.topic}"?`, 'POST', 'topics/' + seg(d.topic), { action: 'pause' }),
    'unpause-topic': (d) => act(`Are you sure you want to unpause topic "${d.topic}"?`, 'POST', 'topics/' + seg(d.topic), { action: 'unpause' }),
    'delete-topic': (d) => act(`Are you sure you want to delete topic "${d.topic}"?`, 'DELETE', 'topics/' + seg(d.topic), undefined, href('topics')),
    'empty-channel': (d) => act(`Are you sure you want to empty channel "${d.topic}/${d.channel}"?`, 'POST', `topics/${seg(d.topic)}/${seg(d.channel)}`, { action: 'empty' }),
    'pause-channel': (d) => act(`Are you sure you want to pause channel "${d.topic}/${d.channel}"?`, 'POST', `topics/${seg(d.topic)}/${seg(d.channel)}`, { action: 'pause' }),
    'unpause-channel': (d) => act(`Are you sure you want to unpause channel "${d.topic}/${d.channel}"?`, 'POST', `topics/${seg(d.topic)}/${seg(d.channel)}`, { action: 'unpause' }),
    'delete-channel': (d) => act(`Are you sure you want to delete channel "${d.topic}/${d.channel}"?`, 'DELETE', `topics/${seg(d.topic)}/${seg(d.channel)}`, undefined, href('topics', d.topic)),
    'tombstone-topic': (d) => act(`Are you sure you want to tombstone topic "${d.topic}" on node ${d.node}?`, 'DELETE', 'nodes/' + seg(d.node), { topic: d.topic }),
    'delete-inactive-topic': (d) => act(`Are you sure you want to delete inactive topic "${d.topic}"?`, 'DELETE', 'topics/' + seg(d.topic)),
    'delete-inactive-channel': (d) => act(`Are you sure you want to delete inactive channel "${d.topic}/${d.channel}"?`, 'DELETE', `topics/${seg(d.topic)}/${seg(d.channel)}`)
  }

  const button = (action, text, cls, data) => CFG.is_admin
    ? html`<button type="button" class="${cls}" data-action="${action}" data-topic="${data.topic}" data-channel="${data.channel}" data-node="${data.node}">${text}</button>`
    : ''
  const xButton = (action, data, title) => CFG.is_admin
    ? html`<button type="button" class="x" title="${title}" data-action="${action}" data-topic="${data.topic}" data-channel="${data.channel}" data-node="${data.node}">✘</button>`
    : ''

  // ---------------------------------------------------------------- pages: streams, topic, channel
  async function topicsPage (ctx) {
    const d = await load(ctx, 'topics', 'Topics')
    if (!d) return
    const topics = d.topics || []
    ctx.render(html`<h2>Topics</h2>
      ${topics.length === 0
        ? html`<p class="notice" data-testid="no-topics">No Topics Found</p>`
        : table('topics', ['Topic'], topics.map((t) => html`<tr data-testid="topic-row-${t}"><td>${link(t, 'topics', t)}</td></tr>`))}`)
  }

  async function topicPage (ctx, topic) {
    const d = await load(ctx, 'topics/' + seg(topic), 'Topic: ' + topic)
    if (!d) return
    const nodes = d.nodes || []
    const channels = d.channels || []
    const data = { topic }
    const nodeRow = (n, total) => html`<tr data-testid="${total ? 'total-row' : 'node-row-' + n.node}" class="${total ? 'total' : ''}">
      <td>${total ? 'Total:' : link(n.node, 'nodes', n.node)} ${pausedLabel(n.paused)}</td>
      ${cell('depth', n.depth)}${memDisk(n)}${cell('message_count', n.message_count)}
      ${cell('channel_count', total ? channels.length : (n.channels || []).length)}${e2e(n)}
      <td>${total ? '' : xButton('tombstone-topic', { topic, node: n.node }, 'tombstone this topic on ' + n.node)}</td></tr>`
    ctx.render(html`<div class="crumbs">${link('Topics', 'topics')} /</div>
      <h2>Topic: ${topic} ${pausedLabel(d.paused)}</h2>
      <div class="actions">${button('empty-topic', 'Empty Queue', 'warn', data)}${button('delete-topic', 'Delete Topic', 'danger', data)}${
        d.paused ? button('unpause-topic', 'UnPause Topic', '', data) : button('pause-topic', 'Pause Topic', 'warn', data)}</div>
      <h3>Topic message queue</h3>
      ${nodes.length === 0
        ? html`<p class="notice" data-testid="no-producers">No producers exist for this topic</p>`
        : table('topic-nodes', ['NSQd Host', '#Depth', '#Memory + Disk', '#Messages', '#Channels', 'E2E Processing Latency', ''],
          [nodes.map((n) => nodeRow(n, false)), nodeRow(d, true)])}
      <h3>History</h3><div data-testid="history" id="history"></div>
      <h3>Channel message queues</h3>
      ${channels.length === 0
        ? html`<p class="notice" data-testid="no-channels">No channels exist for this topic</p>`
        : table('channels', ['Channel', '#Depth', '#Memory + Disk', '#In-Flight', '#Deferred', '#Requeued', '#Timed Out', '#Messages', '#Connections', 'E2E Processing Latency'],
          channels.map((c) => html`<tr data-testid="channel-row-${c.channel_name}">
            <td>${link(c.channel_name, 'topics', topic, c.channel_name)} ${pausedLabel(c.paused)}</td>
            ${cell('depth', c.depth)}${memDisk(c)}${cell('in_flight_count', c.in_flight_count)}${cell('deferred_count', c.deferred_count)}
            ${cell('requeue_count', c.requeue_count)}${cell('timeout_count', c.timeout_count)}${cell('message_count', c.message_count)}
            ${cell('client_count', c.client_count)}${e2e(c)}</tr>`))}`)
    historyCharts(ctx, 'history/topics/' + seg(topic))
  }

  async function channelPage (ctx, topic, channel) {
    const d = await load(ctx, `topics/${seg(topic)}/${seg(channel)}`, `Channel: ${topic}/${channel}`)
    if (!d) return
    const nodes = d.nodes || []
    const clients = d.clients || []
    const data = { topic, channel }
    const nodeRow = (n, total) => html`<tr data-testid="${total ? 'total-row' : 'node-row-' + n.node}" class="${total ? 'total' : ''}">
      <td>${total ? 'Total:' : link(n.node, 'nodes', n.node)} ${pausedLabel(n.paused)}</td>
      ${cell('depth', n.depth)}${memDisk(n)}${cell('in_flight_count', n.in_flight_count)}${cell('deferred_count', n.deferred_count)}
      ${cell('requeue_count', n.requeue_count)}${cell('timeout_count', n.timeout_count)}${cell('message_count', n.message_count)}
      ${cell('client_count', n.client_count)}${e2e(n)}</tr>`
    const clientRow = (c) => {
      const port = String(c.remote_address || '').split(':').pop()
      const host = c.hostname + (port ? ':' + port : '')
      const attrs = [
        c.sample_rate > 0 ? `Sampled ${c.sample_rate}%` : null,
        c.tls ? 'TLS' : null, c.deflate ? 'Deflate' : null, c.snappy ? 'Snappy' : null,
        c.authed ? 'Authed' : null
      ].filter(Boolean)
      return html`<tr data-testid="client-row-${c.remote_address}">
        <td data-field="client_host">${host}${c.client_id && c.client_id !== c.hostname ? html` <span class="muted">(${c.client_id})</span>` : ''}</td>
        <td data-field="user_agent">${c.user_agent}</td>
        <td data-field="attributes">${attrs.map((a) => html`<span class="label info" title="${a === 'TLS' ? c.tls_version + ' ' + c.tls_cipher_suite : a === 'Authed' ? c.auth_identity : ''}">${a}</span>`)}</td>
        <td>${link(c.node, 'nodes', c.node)}</td>
        ${cell('in_flight_count', c.in_flight_count)}${cell('ready_count', c.ready_count)}${cell('finish_count', c.finish_count)}
        ${cell('requeue_count', c.requeue_count)}${cell('message_count', c.message_count)}
        <td class="num" data-field="connected">${duration(c.connected)}</td></tr>`
    }
    ctx.render(html`<div class="crumbs">${link('Topics', 'topics')} / ${link(topic, 'topics', topic)} /</div>
      <h2>Channel: ${topic} / ${channel} ${pausedLabel(d.paused)}</h2>
      <div class="actions">${button('empty-channel', 'Empty Queue', 'warn', data)}${button('delete-channel', 'Delete Channel', 'danger', data)}${
        d.paused ? button('unpause-channel', 'UnPause Channel', '', data) : button('pause-channel', 'Pause Channel', 'warn', data)}</div>
      <h3>Channel message queue</h3>
      ${nodes.length === 0
        ? html`<p class="notice" data-testid="no-producers">No producers exist for this channel</p>`
        : table('channel-nodes', ['NSQd Host', '#Depth', '#Memory + Disk', '#In-Flight', '#Deferred', '#Requeued', '#Timed Out', '#Messages', '#Connections', 'E2E Processing Latency'],
          [nodes.map((n) => nodeRow(n, false)), nodeRow(d, true)])}
      <h3>History</h3><div data-testid="history" id="history"></div>
      <h3>Clients</h3>
      ${clients.length === 0
        ? html`<p class="notice" data-testid="no-clients">No clients connected to this channel</p>`
        : table('clients', ['Client Host', 'User-Agent', 'Attributes', 'NSQd Host', '#In-Flight', '#Ready Count', '#Finished', '#Requeued', '#Messages', '#Connected'],
          clients.map(clientRow))}`)
    historyCharts(ctx, `history/topics/${seg(topic)}/${seg(channel)}`)
  }

  // ---------------------------------------------------------------- pages: nodes, node
  async function nodesPage (ctx) {
    const d = await load(ctx, 'nodes', 'NSQd Nodes')
    if (!d) return
    const nodes = d.nodes || []
    const lookupMode = LOOKUPDS.length > 0
    const row = (n) => {
      const addr = hostPort(n.broadcast_address, n.http_port)
      const conns = n.remote_addresses || []
      return html`<tr data-testid="node-row-${addr}" class="${n.out_of_date ? 'outdated' : ''}">
        <td data-field="hostname">${n.hostname}</td>
        <td>${link(n.broadcast_address, 'nodes', addr)}</td>
        <td class="num" data-field="tcp_port">${n.tcp_port}</td><td class="num" data-field="http_port">${n.http_port}</td>
        <td data-field="version">${n.version}${n.out_of_date ? html` <span class="label tombstoned">out of date</span>` : ''}</td>
        ${lookupMode ? html`<td class="num ${conns.length !== LOOKUPDS.length ? 'warn' : ''}" data-field="lookupd_conns" title="${conns.join('\n')}">${conns.length}</td>` : ''}
        <td data-field="topics">${(n.topics || []).map((t) => html`<a data-link href="${href('topics', t.topic)}" class="label ${t.tombstoned ? 'tombstoned' : ''}" title="${t.tombstoned ? 'tombstoned' : ''}">${t.topic}</a>`)}</td></tr>`
    }
    ctx.render(html`<h2>NSQd Nodes (${nodes.length})</h2>
      ${nodes.length === 0
        ? html`<p class="notice" data-testid="no-nodes">No nodes found</p>`
        : table('nodes', ['Hostname', 'Broadcast Address', '#TCP Port', '#HTTP Port', 'Version'].concat(lookupMode ? ['#Lookupd Conns.'] : [], ['Topics']), nodes.map(row))}`)
  }

  async function nodePage (ctx, node) {
    const d = await load(ctx, 'nodes/' + seg(node), 'Node: ' + node)
    if (!d) return
    const topics = d.topics || []
    const rows = topics.map((t) => [
      html`<tr data-testid="node-topic-row-${t.topic_name}">
        <td>${xButton('tombstone-topic', { topic: t.topic_name, node }, 'tombstone this topic on ' + node)} ${link(t.topic_name, 'topics', t.topic_name)} ${pausedLabel(t.paused)}</td>
        ${cell('depth', t.depth)}${memDisk(t)}<td></td><td></td><td></td><td></td>${cell('message_count', t.message_count)}
        ${cell('channel_count', (t.channels || []).length)}</tr>`,
      (t.channels || []).map((c) => [html`<tr class="sub" data-testid="node-channel-row-${t.topic_name}/${c.channel_name}">
        <td>${link(c.channel_name, 'topics', t.topic_name, c.channel_name)} ${pausedLabel(c.paused)}</td>
        ${cell('depth', c.depth)}${memDisk(c)}${cell('in_flight_count', c.in_flight_count)}${cell('deferred_count', c.deferred_count)}
        ${cell('requeue_count', c.requeue_count)}${cell('timeout_count', c.timeout_count)}${cell('message_count', c.message_count)}
        ${cell('client_count', (c.clients || []).length)}</tr>`,
      (c.clients || []).map((k) => html`<tr class="sub client" data-testid="node-client-row-${t.topic_name}/${c.channel_name}/${k.remote_address}">
        <td colspan="3" data-field="client_host">${k.hostname}:${String(k.remote_address || '').split(':').pop()} <span class="muted">${k.user_agent}</span></td>
        ${cell('in_flight_count', k.in_flight_count)}<td colspan="3" class="num muted">ready ${num(k.ready_count)} · finished ${num(k.finish_count)} · requeued ${num(k.requeue_count)}</td>
        ${cell('message_count', k.message_count)}<td class="num" data-field="connected">${duration(k.connected)}</td></tr>`)])
    ])
    ctx.render(html`<div class="crumbs">${link('Nodes', 'nodes')} /</div><h2>Node: ${node}</h2>
      ${table('node-totals', ['#Topics', '#Messages', '#Clients'], html`<tr>${cell('topic_count', topics.length)}${cell('total_messages', d.total_messages)}${cell('total_clients', d.total_clients)}</tr>`, 'compact')}
      <h3>Topics</h3>
      ${topics.length === 0
        ? html`<p class="notice" data-testid="no-topics">No topics on this node</p>`
        : table('node-topics', ['Topic / Channel', '#Depth', '#Memory + Disk', '#In-Flight', '#Deferred', '#Requeued', '#Timed Out', '#Messages', '#Channels / Clients'], rows)}`)
  }

  // ---------------------------------------------------------------- page: counter
  // Polls api/counter, the delay ramping from 100 ms to 10 s, and counts the shown number up
  // towards the new total over the next delay (as Go's counter page animates it).
  async function counterPage (ctx) {
    ctx.render(html`<h2>Messages processed</h2><div class="counter" data-testid="counter" data-total="">–</div>
      <p class="counter-sub muted" data-testid="counter-rate"></p>`)
    let delay = 100
    let shown = null
    let last = null
    let timer = null
    let frame = null
    onLeave(() => { clearTimeout(timer); cancelAnimationFrame(frame) })
    const el = () => document.querySelector('[data-testid=counter]')
    async function poll () {
      const res = await api('GET', 'counter')
      if (!ctx.live()) return
      if (report(res)) {
        if (!res.data.message) clearBanner()
        const total = Object.values(res.data.stats || {}).reduce((s, c) => s + (c.message_count || 0), 0)
        const now = Date.now()
        if (last && now > last.t) {
          const rate = (total - last.total) / ((now - last.t) / 1000)
          document.querySelector('[data-testid=counter-rate]').textContent = `${rate.toFixed(1)} msgs/s`
        }
        last = { total, t: now }
        el().dataset.total = String(total)
        const from = shown === null ? total : shown
        const start = performance.now()
        cancelAnimationFrame(frame)
        const step = (ts) => {
          const f = Math.min(1, (ts - start) / delay)
          shown = Math.round(from + (total - from) * f)
          el().textContent = num(shown)
          if (f < 1) frame = requestAnimationFrame(step)
        }
        step(start)
      }
      delay = Math.min(10000, delay * 2)
      timer = setTimeout(poll, delay)
    }
    await poll()
  }

  // ---------------------------------------------------------------- page: lookup
  async function lookupPage (ctx) {
    if (LOOKUPDS.length === 0) {
      ctx.render(html`<h2>Lookup</h2><p class="notice" data-testid="no-lookupd">nsqadmin is not configured with any nsqlookupd (--lookupd-http-address): there is nothing to look up.</p>`)
      return
    }
    const d = await load(ctx, 'topics?inactive=true', 'Lookup')
    if (!d) return
    const inactive = Object.entries(d.topics && !Array.isArray(d.topics) ? d.topics : {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    ctx.render(html`<h2>Lookup</h2>
      <h3>nsqlookupd hosts</h3>
      <ul data-testid="lookupd-hosts">${LOOKUPDS.map((h) => html`<li>${h}</li>`)}</ul>
      <h3>Inactive topics and channels</h3>
      ${inactive.length === 0
        ? html`<p class="notice" data-testid="no-inactive">No inactive topics</p>`
        : html`<ul class="tree" data-testid="inactive">${inactive.map(([t, chans]) => html`<li data-testid="inactive-topic-${t}">
            ${xButton('delete-inactive-topic', { topic: t }, 'delete topic')} ${t}
            <ul>${(chans || []).map((c) => html`<li data-testid="inactive-channel-${t}/${c}">${xButton('delete-inactive-channel', { topic: t, channel: c }, 'delete channel')} ${c}</li>`)}</ul></li>`)}</ul>`}
      ${CFG.is_admin
        ? html`<h3>Create Topic/Channel</h3>
          <form class="inline" data-testid="create-form">
            <input type="text" name="topic" placeholder="topic" required aria-label="topic">
            <input type="text" name="channel" placeholder="channel (optional)" aria-label="channel">
            <button type="submit" data-action="create">Create</button></form>
          <p class="muted">Creates the topic (and channel) in every nsqlookupd; a channel is also created on the topic's producers.</p>`
        : ''}`)
  }

  async function createFromForm (form) {
    const topic = form.elements.topic.value.trim()
    const channel = form.elements.channel.value.trim()
    if (!topic) { banner('error', 'a topic name is required'); return }
    await act(null, 'POST', 'topics', channel ? { topic, channel } : { topic })
  }

  function notFoundPage (ctx) {
    ctx.render(html`<h2>Not found</h2><p>No page at ${location.pathname}. ${link('Back to topics', 'topics')}</p>`)
  }

  // ---------------------------------------------------------------- history charts
  // GET api/history/...: points (oldest first) of depth, in_flight, rate_in, rate_out; drawn
  // as two inline SVG charts and refreshed every history_interval seconds while the page is
  // open. A 404/502 (or no points yet) shows "no history yet"; it never breaks the page.
  function historyCharts (ctx, path) {
    let timer = null
    onLeave(() => clearTimeout(timer))
    const every = Math.max(1, Number(CFG.history_interval) || 5) * 1000
    async function refresh () {
      const res = await api('GET', path)
      if (!ctx.live()) return
      const el = document.getElementById('history')
      if (!el) return
      const points = res.ok && Array.isArray(res.data.points) ? res.data.points : []
      if (!res.ok && res.status !== 404 && res.status !== 502) {
        el.innerHTML = show(html`<p class="muted" data-testid="history-empty">History unavailable: ${res.data.message || 'HTTP ' + res.status}</p>`)
      } else if (points.length === 0) {
        el.innerHTML = show(html`<p class="muted" data-testid="history-empty">No history yet: samples are taken every ${every / 1000}s.</p>`)
      } else {
        el.innerHTML = show(html`<div class="charts">
          ${chart('rates', 'Messages/s', points, [['rate_in', 'in'], ['rate_out', 'out']], 2)}
          ${chart('depth', 'Depth and in-flight', points, [['depth', 'depth'], ['in_flight', 'in flight']], 0)}</div>`)
      }
      timer = setTimeout(refresh, every)
    }
    refresh()
  }

  function chart (name, title, points, series, decimals) {
    const W = 560; const H = 170; const L = 46; const R = 8; const T = 10; const B = 22
    const t0 = points[0].t
    const t1 = Math.max(points[points.length - 1].t, t0 + 1)
    const vals = series.map(([k]) => points.map((p) => Number(p[k]) || 0))
    const max = Math.max(0, ...vals.flat())
    const top = max > 0 ? max : 1
    const x = (t) => L + (t - t0) / (t1 - t0) * (W - L - R)
    const y = (v) => T + (1 - v / top) * (H - T - B)
    const ago = (s) => s >= 3600 ? `${(s / 3600).toFixed(1)}h ago` : s >= 60 ? `${Math.round(s / 60)}m ago` : `${Math.round(s)}s ago`
    const fmt = (v) => decimals ? v.toFixed(decimals) : num(Math.round(v))
    const lines = vals.map((vs, i) => html`<polyline class="s${i}" data-series="${series[i][0]}" points="${
      vs.map((v, j) => x(points[j].t).toFixed(1) + ',' + y(v).toFixed(1)).join(' ')}"/>`)
    const last = series.map(([k], i) => `${k}=${vals[i][vals[i].length - 1]}`).join(' ')
    return html`<div class="chart"><h4>${title}</h4>
      <svg data-testid="history-chart" data-chart="${name}" data-max="${max}" data-last="${last}" data-points="${points.length}"
        viewBox="0 0 ${W} ${H}" role="img" aria-label="${title} over the last ${ago(t1 - t0)}">
        <line class="grid" x1="${L}" y1="${T}" x2="${W - R}" y2="${T}"/>
        <line class="grid" x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}"/>
        <line class="grid" x1="${L}" y1="${T}" x2="${L}" y2="${H - B}"/>
        <text x="${L - 4}" y="${T + 4}" text-anchor="end">${fmt(max)}</text>
        <text x="${L - 4}" y="${H - B}" text-anchor="end">0</text>
        <text x="${L}" y="${H - 6}">${ago(t1 - t0)}</text>
        <text x="${W - R}" y="${H - 6}" text-anchor="end">now</text>
        ${lines}</svg>
      <div class="legend">${series.map(([k, label], i) => html`<span><span class="swatch s${i}"></span>${label} (max ${fmt(Math.max(0, ...vals[i]))})</span>`)}</div></div>`
  }

  // ---------------------------------------------------------------- wiring
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest('a[data-link]')
    if (a && !ev.ctrlKey && !ev.metaKey && !ev.shiftKey && ev.button === 0) {
      ev.preventDefault()
      if (a.getAttribute('href') !== location.pathname) navigate(a.getAttribute('href'))
      return
    }
    const b = ev.target.closest('button[data-action]')
    if (b && b.type !== 'submit' && ACTIONS[b.dataset.action]) {
      ev.preventDefault()
      ACTIONS[b.dataset.action](b.dataset)
    }
  })
  document.addEventListener('submit', (ev) => {
    if (ev.target.matches('[data-testid=create-form]')) { ev.preventDefault(); createFromForm(ev.target) }
  })
  window.addEventListener('popstate', route)
  document.addEventListener('DOMContentLoaded', () => {
    document.getElementById('version').textContent = CFG.version ? 'v' + CFG.version : ''
    route()
  })
}())
