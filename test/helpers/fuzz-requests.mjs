/**
 * The requests of one batch, per endpoint: generated ones (fast-check),
 * mutations of real messages, replays, oversize bodies and raw framing.
 * A builder returns `{ first, rest(k) }`: `first` must be answered before
 * `rest` builds the other `k` requests of the batch (gossip sends its genuine
 * messages first, so that every nonce a mutation can carry has been used
 * once: a mutation that still verifies is a replay and must be refused as
 * one). `rest` may be called again to make up for requests the oracle
 * withheld.
 */
import fc from 'fast-check';
import { generatedRequest, anyMethod, bodyText, deliver } from './fuzz-generators.mjs';
import { int, mutateBody, mutateHeader, mutateSignedHeader, pick } from './fuzz-mutations.mjs';
import { MAX_BODY_BYTES, MAX_ENTRIES, PREFIX } from './fuzz-oracle.mjs';

const json = (value) => Buffer.from(JSON.stringify(value), 'utf8');
const b64 = (text) => Buffer.from(text, 'utf8').toString('base64');

/** A nonce as peers make them: 16 random bytes, base64url. */
function nonce(rng) {
  return Buffer.from(Array.from({ length: 16 }, () => int(rng, 256))).toString('base64url');
}

/** Bodies the adapters must refuse unread (413) or read whole (at the limit). */
function bigBodies(batch) {
  const over = Buffer.alloc(MAX_BODY_BYTES + 1 + (batch % 1000), 0x20);
  over.write('{"message":"gossip","online":[');
  const atLimit = Buffer.alloc(MAX_BODY_BYTES, 0x20);
  atLimit.write('{');
  atLimit.write('}', MAX_BODY_BYTES - 1);
  const chunked = (b) => ({ chunks: Array.from({ length: Math.ceil(b.length / 65_536) }, (_, i) => b.subarray(i * 65_536, (i + 1) * 65_536)) });
  return [batch % 2 === 0 ? { body: over } : chunked(over), ...(batch % 4 === 0 ? [{ body: atLimit }] : [])];
}

/** Makes every message from the `online` array on invalid, by the protocol's rules, whatever else it holds. */
function withDefect(rng, value, now) {
  const gossipShaped = value !== null && typeof value === 'object' && !Array.isArray(value)
    && value.message === 'gossip' && Array.isArray(value.online);
  if (!gossipShaped) return value;
  const entry = { baseUrl: 'http://a.example/', monitor: true, lastUpdate: 1 };
  const defects = [
    { ping: 'yes' }, { full: 1 }, { probe: 5 }, { digest: 'zz' }, { want: [999] }, { buckets: 'x' }, { offline: {} },
    { online: [...value.online, { ...entry, baseUrl: 'ftp://x.example/' }] },
    { online: [...value.online, { ...entry, baseUrl: 'http://u:p@a.example/' }] },
    { online: [...value.online, { ...entry, baseUrl: 'http://a.example/?q' }] },
    { online: [...value.online, { ...entry, baseUrl: `http://a.example/${'x'.repeat(1100)}` }] },
    { online: [...value.online, { ...entry, monitor: 'true' }] },
    { online: [...value.online, { ...entry, lastUpdate: -1 }] },
    { online: [...value.online, { ...entry, lastUpdate: 1.5 }] },
    { online: [...value.online, { ...entry, lastUpdate: now + 7_200_000 }] },
    { online: [...value.online, { ...entry, by: 7 }] },
    { online: [...value.online, { ...entry, downAt: -5 }] },
    { online: [...value.online, { ...entry, suspect: 'yes' }] },
    { online: [...value.online, pick(rng, [null, 'entry', [], 42])] },
  ];
  return { ...value, ...pick(rng, defects) };
}

/**
 * Genuine messages of a peer in this cluster: harmless ones (nothing new for
 * the table) and dangerous ones (they would change it if accepted).
 */
function genuine(table, now) {
  const self = table.find((s) => s.self);
  const wire = (s) => ({ baseUrl: s.baseUrl, monitor: s.monitor, lastUpdate: s.version, ...(s.reason ? { reason: s.reason } : {}) });
  const offline = table.filter((s) => s.state === 'offline').map(wire);
  const other = offline[0];
  return {
    harmless: [
      { message: 'gossip', online: [], ping: true },
      { message: 'gossip', online: [wire(self)], offline },
      { message: 'gossip', online: [], ping: true, digest: '0123456789abcdef:3' },
      { message: 'gossip', online: [], want: [0, 5, 63] },
      { message: 'gossip', online: [], ping: true, probe: self.baseUrl },
    ],
    dangerous: [
      { message: 'gossip', online: [{ baseUrl: 'http://10.9.8.7:3000/', monitor: true, lastUpdate: now }] },
      { message: 'gossip', online: [{ ...other, lastUpdate: other.lastUpdate + 1, reason: undefined }], offline: [] },
      { message: 'gossip', online: [], offline: [{ ...wire(self), lastUpdate: self.version + 1, reason: 'failed', by: other.baseUrl, downAt: now }] },
      { message: 'gossip', online: [{ ...wire(self), suspect: true, by: other.baseUrl, downAt: now }], ping: true },
      { message: 'gossip', online: [], offline: [{ ...wire(self), lastUpdate: self.version + 1, reason: 'admin' }], full: true },
      { message: 'gossip', online: [{ ...wire(self), monitor: !self.monitor, lastUpdate: self.version + 1 }] },
      { message: 'gossip', online: [{ baseUrl: 'https://evil.example/', monitor: false, lastUpdate: now + 1_800_000 }], digest: '0000000000000000:1' },
      { message: 'gossip', online: [wire(self), { baseUrl: 'http://10.0.0.2/', monitor: false, lastUpdate: now }], offline, full: true },
    ],
  };
}

/** A builder per endpoint, called with the batch's number. `ctx`: { secrets, gossipUrl, signRequest, rng, table, bigEntries }. */
export function builders(ctx) {
  const { secrets, rng } = ctx;
  const sample = (arb, n) => (n <= 0 ? [] : fc.sample(arb, { numRuns: n, seed: int(rng, 2 ** 31) }));
  const arbs = Object.fromEntries(['gossip', 'control', 'list', 'health', 'info', 'dashboard'].map((name) =>
    [name, generatedRequest(name, secrets, name === 'gossip' || name === 'control' ? 'POST' : 'GET')]));
  const anyRoute = generatedRequest(undefined, secrets);
  const post = (name, headers, body) => ({ method: 'POST', path: `${PREFIX}${name}`, headers, ...body });
  const sign = (body, t, n) => ctx.signRequest(secrets.gossip, ctx.gossipUrl, body, t, n);

  function gossip(batch) {
    const now = Date.now();
    const { harmless, dangerous } = genuine(ctx.table, now);
    // Each dangerous message shares its nonce with a harmless one, which `first` sends.
    const captured = dangerous.map((d) => {
      const id = nonce(rng);
      const h = pick(rng, harmless);
      return { h: { auth: sign(h, now, id), body: json(h) }, d: { auth: sign(d, now, id), body: json(d) } };
    });
    const tooMany = { message: 'gossip', online: ctx.bigEntries };
    const first = [
      ...captured.map((c) => ({ ...post('gossip', { authorization: c.h.auth, 'content-type': 'application/json' }, { body: c.h.body }), intent: 'harmless' })),
      ...bigBodies(batch).map((b) => post('gossip', {}, b)),
      { ...post('gossip', { authorization: sign(tooMany, now, nonce(rng)) }, { body: json(tooMany) }), intent: 'garbage' },
    ];
    const rest = (m) => {
      const out = [];
      for (let i = 0; i < Math.round(m * 0.05); i++) {
        const c = pick(rng, captured);
        const msg = int(rng, 2) === 0 ? c.h : c.d;
        out.push(post('gossip', { authorization: msg.auth }, { body: msg.body }));
      }
      for (let i = Math.round(m * 0.4); i > 0; i--) {
        const c = pick(rng, captured);
        const msg = int(rng, 5) === 0 ? c.h : c.d;
        let { auth, body } = msg;
        const how = int(rng, 10);
        if (how < 5 || how === 9) body = mutateBody(rng, body);
        if (how >= 5) auth = mutateSignedHeader(rng, auth);
        if (how === 8) body = pick(rng, captured).d.body;
        out.push(post('gossip', { authorization: auth }, deliver(body, int(rng, 8) === 0 ? [int(rng, 1000)] : [])));
      }
      for (const text of sample(bodyText, Math.round(m * 0.25))) {
        let value;
        let body;
        let auth;
        try {
          value = withDefect(rng, JSON.parse(text), now);
          body = json(value);
          auth = sign(value, now, nonce(rng));
        } catch {
          // Not JSON, or nested too deeply to serialise or sign: no peer could have signed it.
          out.push({ ...post('gossip', { authorization: sign({}, now, nonce(rng)) }, { body: body ?? Buffer.from(text, 'utf8') }), intent: 'garbage' });
          continue;
        }
        out.push({ ...post('gossip', { authorization: auth }, { body }), intent: 'garbage' });
      }
      return [...out, ...sample(arbs.gossip, m - out.length)];
    };
    return { first, rest };
  }

  function control(batch) {
    const valid = `Bearer ${secrets.control}`;
    const rest = (m) => {
      const out = [];
      for (let i = Math.round(m * 0.45); i > 0; i--) {
        const how = int(rng, 10);
        let body = json({ message: 'control', online: int(rng, 4) === 0 });
        if (how < 8) body = mutateBody(rng, body);
        out.push(post('control', { authorization: how >= 6 ? mutateHeader(rng, valid) : valid }, { body }));
      }
      for (const spec of sample(arbs.control, m - out.length)) {
        out.push(int(rng, 3) === 0 ? { ...spec, headers: { ...spec.headers, authorization: valid } } : spec);
      }
      return out;
    };
    return { first: bigBodies(batch).map((b) => post('control', { authorization: valid }, b)), rest };
  }

  function reads(name) {
    return () => ({
      first: [],
      rest: (m) => sample(arbs[name], m).map((spec) => {
        if (int(rng, 6) !== 0) return spec;
        const valid = pick(rng, [`Bearer ${secrets.control}`, `Basic ${b64(`admin:${secrets.control}`)}`]);
        return { ...spec, headers: { ...spec.headers, authorization: mutateHeader(rng, valid) } };
      }),
    });
  }

  function unknown() {
    const routes = ['gossip', 'list', 'control', 'health', 'info', 'dashboard'];
    const rest = (m) => {
      const wrong = sample(fc.tuple(fc.constantFrom(...routes), anyMethod), Math.round(m * 0.2))
        .map(([route, method]) => ({ method, path: `${PREFIX}${route}`, headers: {} }));
      return [...wrong, ...sample(anyRoute, m - wrong.length)];
    };
    return { first: [], rest };
  }

  return {
    gossip, control, list: reads('list'), health: reads('health'), info: reads('info'), dashboard: reads('dashboard'), unknown,
  };
}

/** Malformed HTTP framing (smuggling attempts, bad chunks, bad header syntax), sent over raw sockets. */
export function rawRequests(host) {
  const start = (method, route) => `${method} ${PREFIX}${route} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n`;
  return [
    `${start('POST', 'gossip')}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    `${start('POST', 'control')}Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    `${start('POST', 'gossip')}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
    `${start('GET', 'health')}Content-Length: -1\r\n\r\n`,
    `${start('GET', 'list')}Bad Header: x\r\n\r\n`,
    `${start('GET', 'info')}X-Folded: a\r\n b\r\n\r\n`,
    `${start('GET', 'list')}X-Nul: a\u0000b\r\n\r\n`,
    `${start('GET', 'list')}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    `G@T ${PREFIX}list HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET ${PREFIX}list\u0000 HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET ${PREFIX}list\u00e9\u00ff HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `${start('POST', 'control')}Transfer-Encoding: chunked\r\n\r\n${'f'.repeat(20)}\r\n`,
    `${start('POST', 'gossip')}Transfer-Encoding: gzip, chunked, identity\r\n\r\n0\r\n\r\n`,
  ].map((text) => Buffer.from(text, 'latin1'));
}

/** 20,001 well-formed entries: one more than a message may carry. */
export function tooManyEntries() {
  return Array.from({ length: MAX_ENTRIES + 1 }, (_, i) => ({ baseUrl: `http://10.${i >> 8 & 255}.${i & 255}.1/`, monitor: false, lastUpdate: 1 }));
}
