/**
 * The live dashboard: one self-contained HTML page (inline CSS and script,
 * nothing fetched from elsewhere) that polls `./info` every second and
 * renders the {@link ClusterInfo} view. The routes serve it at
 * `GET clustershazbot/dashboard` behind the control secret, with the strict
 * Content-Security-Policy computed here from the exact inline texts.
 */
import { createHash } from 'node:crypto';
import { CONFIG_KEYS, SCRIPT, STAT_KEYS } from './client.js';
import { STATE_PANEL_HTML } from './state-panel.js';
import { STYLE } from './style.js';

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
<span id="updated" data-at="">not updated yet</span>
</div>
<div id="banner" role="alert" hidden></div>
</header>
<main>
<section class="cards" aria-label="At a glance">
<div class="card"><h2>Members</h2><div class="members">
<div><span id="count-online" class="big n-online">…</span><span class="muted">online</span></div>
<div><span id="count-suspect" class="big n-suspect">…</span><span class="muted">suspect</span></div>
<div><span id="count-offline" class="big n-offline">…</span><span class="muted">offline</span></div>
</div></div>
<div class="card"><h2>Exchange latency, p99</h2><div id="xchg-p99" class="big">…</div><div id="xchg-detail" class="figures muted">…</div></div>
<div class="card"><h2>Last event</h2><div id="last-event">…</div></div>
</section>
<h2>Timeline</h2>
<div class="scroll">
<table>
<caption>The last <span id="timeline-count">…</span> membership events this server saw, newest first. Times are this server's clock (UTC).</caption>
<thead><tr><th scope="col">When</th><th scope="col">Event</th><th scope="col">Server</th><th scope="col">Why</th></tr></thead>
<tbody id="timeline"></tbody>
</table>
</div>
<h2>Servers</h2>
<table>
<caption>Every server this server knows, itself included. Times are relative to this server's clock. Exchanges: this server's recent probes, pushes and syncs with each peer (bar height: latency, log scale; red: failed).</caption>
<thead><tr><th scope="col">Server</th><th scope="col">State</th><th scope="col">Monitor</th><th scope="col">Version</th><th scope="col">Last contact</th><th scope="col">Exchanges</th></tr></thead>
<tbody id="servers"></tbody>
</table>
${STATE_PANEL_HTML}
<div class="columns">
<section><h2>Configuration</h2><dl id="config">${definitions('cfg-', CONFIG_KEYS)}</dl></section>
<section><h2>Counters</h2><dl id="stats">${definitions('stat-', STAT_KEYS)}</dl></section>
</div>
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
