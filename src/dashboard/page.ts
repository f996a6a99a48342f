/**
 * The live dashboard: one self-contained HTML page (inline CSS and script,
 * nothing fetched from elsewhere) that polls `./info` every second and
 * renders the {@link ClusterInfo} view. The routes serve it at
 * `GET clustershazbot/dashboard` behind the control secret, with the strict
 * Content-Security-Policy computed here from the exact inline texts.
 */
import { createHash } from 'node:crypto';
import type { ClusterInfo } from '../engine/info.js';

/** Settings the page shows (from ClusterInfo.config). */
const CONFIG_KEYS = [
  'probeIntervalMs', 'probeTimeoutMs', 'gossipIntervalMs', 'suspicionMult', 'indirectProbes', 'monitor', 'announces', 'masterList',
] as const satisfies readonly (keyof ClusterInfo['config'])[];
/** Counters the page shows (from ClusterInfo.stats). */
const STAT_KEYS = [
  'exchanges', 'exchangeFailures', 'probeRounds', 'antiEntropyRounds', 'bytesIn', 'bytesOut', 'signatureRejections',
] as const satisfies readonly (keyof ClusterInfo['stats'])[];

/** The page's stylesheet: system fonts, light and dark schemes. */
const STYLE = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#59636e;--line:#d1d9e0;--head:#f6f8fa;
--ok-bg:#dafbe1;--ok-fg:#116329;--warn-bg:#fff8c5;--warn-fg:#7d4e00;--bad-bg:#ffebe9;--bad-fg:#a40e26}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--head:#151b23;
--ok-bg:#12361f;--ok-fg:#7ee787;--warn-bg:#3b2e05;--warn-fg:#f2cc60;--bad-bg:#490202;--bad-fg:#ffa198}}
*{box-sizing:border-box}[hidden]{display:none!important}
body{margin:0;padding:1rem 1.5rem;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,sans-serif}
h1{font-size:1.3rem;margin:0 0 .25rem}h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
.age,#updated{color:var(--muted)}.url{font-family:ui-monospace,monospace;word-break:break-all}
#banner{margin:.75rem 0;padding:.6rem .9rem;border-radius:6px;background:var(--bad-bg);color:var(--bad-fg);font-weight:600}
body.stale main{opacity:.6}
.summary{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;margin:.5rem 0}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem;margin:0}dt{color:var(--muted)}dd{margin:0}
table{border-collapse:collapse;width:100%}caption{text-align:left;color:var(--muted);padding-bottom:.3rem}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
thead th{background:var(--head)}tbody th{font-weight:normal}
.badge{display:inline-block;padding:0 .5rem;border-radius:1rem;font-weight:600;white-space:nowrap}
.badge.online{background:var(--ok-bg);color:var(--ok-fg)}.badge.suspect,.badge.unknown{background:var(--warn-bg);color:var(--warn-fg)}
.badge.offline{background:var(--bad-bg);color:var(--bad-fg)}
.tag{margin-left:.5rem;padding:0 .4rem;border:1px solid var(--line);border-radius:4px;font-size:.8rem;color:var(--muted)}
`;

/** The page's script. It builds every node with createElement/textContent: server data is never parsed as HTML. */
const SCRIPT = `
(function () {
  'use strict';
  var POLL_MS = 1000;
  var TIMEOUT_MS = 5000;
  var STATES = ['online', 'suspect', 'offline'];
  var CONFIG = ${JSON.stringify(CONFIG_KEYS)};
  var STATS = ${JSON.stringify(STAT_KEYS)};
  var lastOkAt = 0;

  function byId(id) { return document.getElementById(id); }
  function setText(id, text) { byId(id).textContent = text; }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function num(v) { return typeof v === 'number' && isFinite(v) ? v : NaN; }
  function duration(ms) {
    if (isNaN(ms)) return '?';
    ms = Math.max(0, ms);
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    if (ms < 3600000) return Math.floor(ms / 60000) + ' min';
    if (ms < 86400000) return Math.floor(ms / 3600000) + ' h';
    return Math.floor(ms / 86400000) + ' d';
  }
  function iso(ms) {
    var d = new Date(ms);
    return isNaN(d.getTime()) ? '?' : d.toISOString();
  }
  function show(v, unit) {
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    if (typeof v === 'number') return v.toLocaleString('en') + (unit || '');
    return String(v);
  }

  function row(s, now) {
    var state = STATES.indexOf(s.state) >= 0 ? s.state : 'unknown';
    var self = s.self === true;
    var tr = el('tr');
    tr.setAttribute('data-server', String(s.baseUrl));
    tr.setAttribute('data-state', state);
    if (self) tr.setAttribute('data-self', 'true');
    var name = el('th');
    name.scope = 'row';
    name.appendChild(el('span', String(s.baseUrl), 'url'));
    if (self) name.appendChild(el('span', 'this server', 'tag'));
    tr.appendChild(name);
    var badge = el('td');
    var reason = state === 'offline' && typeof s.reason === 'string' ? ' (' + s.reason + ')' : '';
    badge.appendChild(el('span', state + reason, 'badge ' + state));
    tr.appendChild(badge);
    tr.appendChild(el('td', s.monitor === true ? 'yes' : 'no'));
    var version = el('td');
    var time = el('time', iso(num(s.version)));
    time.dateTime = time.textContent;
    version.appendChild(time);
    version.appendChild(el('div', duration(now - num(s.version)) + ' ago', 'age'));
    tr.appendChild(version);
    var contact = self ? 'this server' : s.lastContactAt === null ? 'never' : duration(now - num(s.lastContactAt)) + ' ago';
    tr.appendChild(el('td', contact));
    return tr;
  }

  function render(info) {
    if (info === null || typeof info !== 'object' || !Array.isArray(info.servers)) throw new Error('unexpected answer');
    var now = num(info.now);
    setText('base-url', String(info.baseUrl));
    var status = byId('status');
    status.textContent = String(info.status);
    status.className = 'badge ' + (info.status === 'running' ? 'online' : 'suspect');
    STATES.forEach(function (k) { setText('count-' + k, show(num(info.counts && info.counts[k]))); });
    CONFIG.forEach(function (k) { setText('cfg-' + k, show(info.config && info.config[k], /Ms$/.test(k) ? ' ms' : '')); });
    STATS.forEach(function (k) { setText('stat-' + k, show(num(info.stats && info.stats[k]))); });
    var rows = info.servers.map(function (s) { return row(s, now); });
    byId('servers').replaceChildren.apply(byId('servers'), rows);
    var updated = byId('updated');
    updated.textContent = 'updated ' + iso(now);
    updated.setAttribute('data-at', String(now));
  }

  function connected() {
    byId('banner').hidden = true;
    document.body.classList.remove('stale');
  }
  function disconnected(e) {
    var why = e && e.name === 'AbortError' ? 'timed out' : e && e.message ? e.message : 'error';
    var last = lastOkAt ? duration(Date.now() - lastOkAt) + ' ago' : 'never';
    setText('banner', 'Disconnected (' + why + '): last update ' + last + '. Retrying every second.');
    byId('banner').hidden = false;
    document.body.classList.add('stale');
  }

  function poll() {
    var ctrl = new AbortController();
    var timer = setTimeout(function () { ctrl.abort(); }, TIMEOUT_MS);
    fetch('./info', { cache: 'no-store', credentials: 'same-origin', signal: ctrl.signal })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(function (info) {
        render(info);
        lastOkAt = Date.now();
        connected();
      })
      .catch(disconnected)
      .then(function () {
        clearTimeout(timer);
        setTimeout(poll, POLL_MS);
      });
  }
  poll();
})();
`;

function definitions(prefix: string, keys: readonly string[]): string {
  return keys.map((k) => `<dt>${k}</dt><dd id="${prefix}${k}">…</dd>`).join('');
}

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>clustershazbot dashboard</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>clustershazbot <span id="base-url" class="url">…</span></h1>
<div class="summary">
<span>Status: <span id="status" class="badge unknown">loading</span></span>
<span>Online: <strong id="count-online">…</strong></span>
<span>Suspect: <strong id="count-suspect">…</strong></span>
<span>Offline: <strong id="count-offline">…</strong></span>
<span id="updated" data-at="">not updated yet</span>
</div>
<div id="banner" role="alert" hidden></div>
<section><h2>Configuration</h2><dl id="config">${definitions('cfg-', CONFIG_KEYS)}</dl></section>
</header>
<main>
<h2>Servers</h2>
<table>
<caption>Every server this server knows, itself included. Times are relative to this server's clock.</caption>
<thead><tr><th scope="col">Server</th><th scope="col">State</th><th scope="col">Monitor</th><th scope="col">Version</th><th scope="col">Last contact</th></tr></thead>
<tbody id="servers"></tbody>
</table>
<h2>Counters</h2>
<dl id="stats">${definitions('stat-', STAT_KEYS)}</dl>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;

/** `'sha256-…'`: the CSP source that allows exactly this inline text. */
function hashSource(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

const PAGE = Object.freeze({
  html: HTML,
  contentSecurityPolicy: [
    "default-src 'none'",
    `script-src ${hashSource(SCRIPT)}`,
    `style-src ${hashSource(STYLE)}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
});

/**
 * The dashboard page and the Content-Security-Policy to serve it with.
 * Both are built once at module load and are the same on every call; the
 * policy allows only the page's own inline script and style (by SHA-256)
 * and `fetch` to the same origin.
 */
export function dashboardPage(): { html: string; contentSecurityPolicy: string } {
  return PAGE;
}
