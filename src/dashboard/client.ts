/**
 * The dashboard's script, as the text served inline (allowed by its SHA-256
 * in the CSP, page.ts). It polls `./info` every second and renders the
 * {@link ClusterInfo} view: the cluster at a glance, the membership
 * timeline, the servers with their exchange charts, the replicated state
 * (state-panel.ts), settings and counters.
 *
 * Rules it keeps: every node is built with createElement and textContent
 * (server data is never parsed as HTML); styles come only from classes and
 * from CSSOM properties (no style attributes, which the CSP forbids);
 * nothing is fetched but `./info`.
 */
import type { ClusterInfo } from '../engine/info.js';
import { STATE_PANEL_SCRIPT } from './state-panel.js';

/** Settings the page shows (from ClusterInfo.config). */
export const CONFIG_KEYS = [
  'probeIntervalMs', 'probeTimeoutMs', 'gossipIntervalMs', 'suspicionMult', 'indirectProbes', 'monitor', 'announces', 'masterList',
] as const satisfies readonly (keyof ClusterInfo['config'])[];
/** Counters the page shows (from ClusterInfo.stats). */
export const STAT_KEYS = [
  'exchanges', 'exchangeFailures', 'probeRounds', 'antiEntropyRounds', 'bytesIn', 'bytesOut', 'signatureRejections',
] as const satisfies readonly (keyof ClusterInfo['stats'])[];

/** Bars in an exchange chart (the info view's RECENT_SAMPLES). */
const CHART_BARS = 30;

export const SCRIPT = `
(function () {
  'use strict';
  var POLL_MS = 1000;
  var TIMEOUT_MS = 5000;
  var STATES = ['online', 'suspect', 'offline'];
  var CONFIG = ${JSON.stringify(CONFIG_KEYS)};
  var STATS = ${JSON.stringify(STAT_KEYS)};
  var CHART_BARS = ${CHART_BARS};
  var KINDS = { up: 'up', suspect: 'suspect', down: 'down', left: 'left', 'operator-offline': 'operator offline', 'operator-online': 'operator online' };
  var CAUSES = {
    started: 'this server started',
    'first-seen': 'first seen',
    refuted: 'refuted the suspicion with a newer version',
    recovered: 'back after being declared failed',
    rejoined: 'back after leaving',
    'probe-failed': 'no answer to direct and indirect probes from this server',
    'suspicion-timeout': 'suspicion not refuted in time',
    shutdown: 'shut down gracefully',
    admin: 'control request of an operator',
    unknown: 'offline, no reason given (seed-format peer)'
  };
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
  function clock(ms) {
    var t = iso(ms);
    return t === '?' ? t : t.slice(11, 23) + 'Z';
  }
  function millis(v) {
    v = num(v);
    if (isNaN(v)) return '?';
    return (v < 10 ? v.toFixed(1).replace(/\\.0$/, '') : Math.round(v).toLocaleString('en')) + ' ms';
  }
  function show(v, unit) {
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    if (typeof v === 'number') return v.toLocaleString('en') + (unit || '');
    return String(v);
  }
  // host:port for a base URL at the root, the whole URL otherwise.
  function short(url) {
    var m = /^https?:\\/\\/([^/]+)\\/$/.exec(String(url));
    return m ? m[1] : String(url);
  }
  function kindOf(k) { return Object.prototype.hasOwnProperty.call(KINDS, k) ? k : 'unknown'; }
  function why(ev) {
    if (ev.cause === 'reported') {
      var who = typeof ev.by === 'string' ? short(ev.by) : 'another server';
      return (ev.kind === 'suspect' ? 'suspected by ' : 'declared failed by ') + who;
    }
    return Object.prototype.hasOwnProperty.call(CAUSES, ev.cause) ? CAUSES[ev.cause] : String(ev.cause);
  }

  // A bar per recent exchange, on a log scale shared by every row; a failure is a full red bar.
  function chart(recent, scaleMax) {
    var box = el('span', undefined, 'chart');
    var ok = 0;
    var failed = 0;
    recent.slice(-CHART_BARS).forEach(function (v) {
      var bar = el('span', undefined, 'bar');
      if (v === null) {
        failed++;
        bar.className = 'bar failed';
        bar.title = 'failed';
      } else {
        ok++;
        var h = 2 + 20 * Math.log(1 + Math.max(0, num(v))) / Math.log(1 + scaleMax);
        bar.style.height = Math.min(22, h).toFixed(1) + 'px';
        bar.title = millis(v);
      }
      box.appendChild(bar);
    });
    box.setAttribute('role', 'img');
    box.setAttribute('aria-label', 'last ' + (ok + failed) + ' exchanges: ' + ok + ' answered, ' + failed + ' failed');
    return box;
  }

  function exchangesCell(x, scaleMax) {
    var td = el('td');
    td.className = 'exchanges-cell';
    if (!x || !Array.isArray(x.recentMs)) {
      td.appendChild(el('span', 'none recently', 'muted'));
      return td;
    }
    var wrap = el('div', undefined, 'exchanges');
    wrap.appendChild(chart(x.recentMs, scaleMax));
    var figures = el('div', undefined, 'figures');
    figures.appendChild(el('div', 'last ' + (x.lastOk ? millis(x.lastMs) : 'failed') + ' · p99 ' + (x.p99Ms === null ? '–' : millis(x.p99Ms))));
    figures.appendChild(el('div', show(num(x.failures)) + ' failed of ' + show(num(x.samples)), num(x.failures) > 0 ? 'bad' : 'muted'));
    wrap.appendChild(figures);
    td.appendChild(wrap);
    return td;
  }

  function serverRow(s, now, scaleMax) {
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
    tr.appendChild(el('td', contact, 'contact'));
    tr.appendChild(self ? el('td', '–', 'muted') : exchangesCell(s.exchanges, scaleMax));
    return tr;
  }

  function eventRow(ev, now) {
    var kind = kindOf(ev.kind);
    var tr = el('tr');
    tr.setAttribute('data-seq', String(ev.seq));
    tr.setAttribute('data-kind', kind);
    tr.setAttribute('data-server', String(ev.baseUrl));
    var when = el('td', undefined, 'when');
    var time = el('time', clock(num(ev.at)));
    time.dateTime = iso(num(ev.at));
    when.appendChild(time);
    when.appendChild(el('div', duration(now - num(ev.at)) + ' ago', 'age'));
    tr.appendChild(when);
    var what = el('td');
    what.appendChild(el('span', KINDS[kind] || 'unknown', 'badge ' + kind));
    tr.appendChild(what);
    var who = el('td');
    who.appendChild(el('span', short(ev.baseUrl), 'url'));
    who.title = String(ev.baseUrl);
    if (ev.self === true) who.appendChild(el('span', 'this server', 'tag'));
    tr.appendChild(who);
    tr.appendChild(el('td', why(ev), 'why'));
    return tr;
  }

${STATE_PANEL_SCRIPT}
  function renderGlance(info, now) {
    STATES.forEach(function (k) { setText('count-' + k, show(num(info.counts && info.counts[k]))); });
    var x = info.exchanges || {};
    var span = duration(num(x.windowMs));
    setText('xchg-p99', x.p99Ms === null || x.p99Ms === undefined ? '–' : millis(x.p99Ms));
    setText('xchg-detail', show(num(x.samples)) + ' exchanges with ' + show(num(x.peers)) + ' peers in the last ' + span + ', ' + show(num(x.failures)) + ' failed');
    byId('xchg-detail').className = num(x.failures) > 0 ? 'figures bad' : 'figures muted';
    var events = Array.isArray(info.events) ? info.events : [];
    var last = byId('last-event');
    if (events.length === 0) {
      last.replaceChildren(el('span', 'none yet', 'muted'));
      return;
    }
    var ev = events[events.length - 1];
    var kind = kindOf(ev.kind);
    last.replaceChildren(el('span', KINDS[kind] || 'unknown', 'badge ' + kind), el('span', ' ' + short(ev.baseUrl) + ' ', 'url'),
      el('span', duration(now - num(ev.at)) + ' ago', 'age'));
  }

  function render(info) {
    if (info === null || typeof info !== 'object' || !Array.isArray(info.servers)) throw new Error('unexpected answer');
    var now = num(info.now);
    setText('base-url', String(info.baseUrl));
    var status = byId('status');
    status.textContent = String(info.status);
    status.className = 'badge ' + (info.status === 'running' ? 'online' : 'suspect');
    renderGlance(info, now);
    var events = Array.isArray(info.events) ? info.events.slice().reverse() : [];
    var rows = events.map(function (ev) { return eventRow(ev, now); });
    if (rows.length === 0) {
      var empty = el('tr');
      var cell = el('td', 'No membership events yet.', 'muted');
      cell.colSpan = 4;
      empty.appendChild(cell);
      rows = [empty];
    }
    byId('timeline').replaceChildren.apply(byId('timeline'), rows);
    setText('timeline-count', show(events.length));
    var scaleMax = 10;
    info.servers.forEach(function (s) {
      (s.exchanges && Array.isArray(s.exchanges.recentMs) ? s.exchanges.recentMs : []).forEach(function (v) {
        if (v !== null && num(v) > scaleMax) scaleMax = num(v);
      });
    });
    byId('servers').replaceChildren.apply(byId('servers'), info.servers.map(function (s) { return serverRow(s, now, scaleMax); }));
    renderState(info);
    CONFIG.forEach(function (k) { setText('cfg-' + k, show(info.config && info.config[k], /Ms$/.test(k) ? ' ms' : '')); });
    STATS.forEach(function (k) { setText('stat-' + k, show(num(info.stats && info.stats[k]))); });
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
