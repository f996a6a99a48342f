/**
 * The dashboard's "Replicated state" panel: the markup (page.ts places it)
 * and the script fragment that renders the info view's `extensions.state`
 * (src/state/state-info.ts) into it. The fragment is spliced into the
 * page's one inline script (client.ts), inside its function, so it uses
 * that script's helpers (`byId`, `setText`, `el`, `num`, `show`, `millis`,
 * `duration`) and keeps its rules: nodes built with createElement and
 * textContent only, styles from classes only. The panel stays hidden for an
 * instance without a replicated state.
 */

/** The panel's markup: readiness and counters, a table of maps, a table of peers' lag. */
export const STATE_PANEL_HTML = `<section id="state-panel" aria-labelledby="state-heading" hidden>
<h2 id="state-heading">Replicated state</h2>
<dl id="state-stats">
<dt>Status</dt><dd><span id="state-ready" class="badge unknown">…</span></dd>
<dt>Initial sync</dt><dd id="state-sync">…</dd>
<dt>Repairs</dt><dd id="state-repairs">…</dd>
<dt>Pushes</dt><dd id="state-pushes">…</dd>
<dt>Tombstones</dt><dd id="state-tombstones">…</dd>
<dt>Store</dt><dd id="state-store">…</dd>
</dl>
<table class="state-maps">
<caption>Each map on this server: live keys, bytes of its keys and values, deleted keys waiting for collection, writes refused for passing a limit, and changes by origin (written here / pushed by peers / synced).</caption>
<thead><tr><th scope="col">Map</th><th scope="col" class="num">Keys</th><th scope="col" class="num">Bytes</th><th scope="col" class="num">Tombstones</th><th scope="col" class="num">Rejected writes</th><th scope="col" class="num">Changes local / remote / sync</th></tr></thead>
<tbody id="state-maps"></tbody>
</table>
<table class="state-peers">
<caption>Each peer up: how long since its state was last seen equal to this server's (the replication lag).</caption>
<thead><tr><th scope="col">Peer</th><th scope="col">Lag</th></tr></thead>
<tbody id="state-peers"></tbody>
</table>
</section>`;

/** Defines `renderState(info)` inside the page script. */
export const STATE_PANEL_SCRIPT = `
  function bytes(v) {
    v = num(v);
    if (isNaN(v)) return '?';
    if (v < 1024) return v + ' B';
    var units = ['KiB', 'MiB', 'GiB', 'TiB'];
    var i = -1;
    do { v /= 1024; i++; } while (v >= 1024 && i < units.length - 1);
    return v.toFixed(1) + ' ' + units[i];
  }
  function count(v) { return show(num(v)); }
  function emptyRow(text, columns) {
    var tr = el('tr');
    var cell = el('td', text, 'muted');
    cell.colSpan = columns;
    tr.appendChild(cell);
    return tr;
  }
  function fill(id, rows, empty, columns) {
    var body = byId(id);
    body.replaceChildren.apply(body, rows.length > 0 ? rows : [emptyRow(empty, columns)]);
  }
  function mapRow(m) {
    var tr = el('tr');
    tr.setAttribute('data-map', String(m.name));
    var name = el('th', String(m.name));
    name.scope = 'row';
    tr.appendChild(name);
    tr.appendChild(el('td', count(m.keys), 'num keys'));
    tr.appendChild(el('td', bytes(m.bytes), 'num bytes'));
    tr.appendChild(el('td', count(m.tombstones), 'num tombstones'));
    tr.appendChild(el('td', count(m.rejectedWrites), num(m.rejectedWrites) > 0 ? 'num rejected bad' : 'num rejected'));
    tr.appendChild(el('td', count(m.localWrites) + ' / ' + count(m.remoteChanges) + ' / ' + count(m.syncChanges), 'num changes'));
    return tr;
  }
  function peerRow(url, lag) {
    var tr = el('tr');
    tr.setAttribute('data-peer', url);
    var name = el('th');
    name.scope = 'row';
    name.appendChild(el('span', url, 'url'));
    tr.appendChild(name);
    tr.appendChild(lag === null ? el('td', 'never seen equal yet', 'lag muted') : el('td', duration(num(lag)), 'lag'));
    return tr;
  }
  function renderState(info) {
    var s = info.extensions && info.extensions.state;
    var panel = byId('state-panel');
    if (!s || typeof s !== 'object' || !Array.isArray(s.maps)) {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    var ready = byId('state-ready');
    ready.textContent = s.ready === true ? 'ready' : 'not ready';
    ready.className = 'badge ' + (s.ready === true ? 'online' : 'suspect');
    var sync = s.sync || {};
    var took = typeof sync.tookMs === 'number' ? ' in ' + millis(sync.tookMs) : '';
    setText('state-sync', String(sync.outcome) + took + ' · ' + count(sync.chunks) + ' chunks, ' + count(sync.keys) + ' keys, ' + count(sync.failedChunks) + ' failed chunks');
    var r = s.repairs || {};
    setText('state-repairs', count(r.repairs) + ' · ' + count(r.keysSent) + ' keys sent, ' + count(r.keysReceived) + ' received');
    var p = s.pushes || {};
    setText('state-pushes', count(p.pending) + ' pending · ' + count(p.sent) + ' sent');
    setText('state-tombstones', count(s.tombstonesWaiting) + ' waiting · ' + count(s.collected) + ' collected');
    var st = s.store;
    setText('state-store', st && typeof st === 'object'
      ? count(st.appended) + ' appended, ' + count(st.failures) + ' failures, ' + count(st.compactions) + ' compactions'
      : 'none (memory only)');
    byId('state-store').className = st && num(st.failures) > 0 ? 'bad' : '';
    fill('state-maps', s.maps.map(mapRow), 'No maps yet.', 6);
    var peers = s.peers && typeof s.peers === 'object' ? s.peers : {};
    fill('state-peers', Object.keys(peers).sort().map(function (url) { return peerRow(url, peers[url]); }), 'No peer up.', 2);
  }
`;
