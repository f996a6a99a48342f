/**
 * The fuzz run: starts the target, sends `count` hostile requests to each
 * endpoint in batches, judges every answer against the oracle, and between
 * batches checks that the child is alive, healthy, logs no error and still
 * has exactly the membership table it started with. Resolves to a summary;
 * `summary.ok` is false on any violation.
 */
import { createClient } from './fuzz-client.mjs';
import { expectReply } from './fuzz-oracle.mjs';
import { prng } from './fuzz-mutations.mjs';
import { builders, rawRequests, tooManyEntries } from './fuzz-requests.mjs';
import { pollUntil, ROOT, startTarget, tableOf } from './fuzz-target.mjs';

/** The endpoints fuzzed, in order; `unknown` is every other path and method under the prefix. */
const ENDPOINTS = ['gossip', 'list', 'control', 'health', 'info', 'dashboard', 'unknown'];
/** Violations kept in the summary as examples. */
const MAX_EXAMPLES = 20;

/** The value of JSON text, or undefined if it is not JSON. */
function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const tally = (histogram, key) => {
  histogram[key] = (histogram[key] ?? 0) + 1;
};

/** What a request looked like, short enough for a report (secrets are replaced). */
function describe(spec, secrets) {
  const hide = (s) => s.split(secrets.control).join('<control secret>').split(secrets.gossip).join('<gossip secret>');
  const body = spec.body ?? (spec.chunks ? Buffer.concat(spec.chunks) : undefined);
  return {
    method: spec.method,
    path: hide(spec.path.slice(0, 200)),
    authorization: spec.headers.authorization === undefined ? undefined : hide(String(spec.headers.authorization).slice(0, 200)),
    body: body === undefined ? undefined : `${body.length} bytes: ${hide(body.subarray(0, 300).toString('utf8'))}`,
    chunked: spec.chunks !== undefined,
  };
}

/** Why an answer breaks the expectation, or undefined if it does not. */
function judge(spec, expect, res, secrets) {
  if (res.unsendable) return `generator bug, not sent: ${res.error}`;
  // A request node's parser refuses gets a 400 and a closed connection, which a client still sending its body sees as a reset.
  if (expect.parser && (res.error === 'ECONNRESET' || res.error === 'EPIPE')) return undefined;
  if (res.error !== undefined) return `no answer (${res.error})`;
  const s = res.status;
  if (expect.status === '4xx' ? !(s >= 400 && s < 500) : s !== expect.status) return `status ${s}, expected ${expect.status}`;
  const text = res.body.toString('utf8');
  if (text.includes(secrets.control) || text.includes(secrets.gossip) || text.includes(secrets.store)) return 'a secret is echoed';
  if (expect.header !== undefined && res.headers[expect.header[0]] !== expect.header[1]) return `header ${expect.header[0]} is ${res.headers[expect.header[0]]}`;
  if (spec.method === 'HEAD' || expect.parser) return undefined;
  if (s < 400) {
    if (!expect.signedReply) return undefined;
    const reply = parseJson(text);
    return reply?.message === 'gossip' && typeof reply.signature === 'string' ? undefined : `unsigned gossip reply: ${text.slice(0, 80)}`;
  }
  const error = parseJson(text);
  if (error === undefined) return `error body is not JSON: ${text.slice(0, 80)}`;
  if (typeof error?.error !== 'string' || typeof error.code !== 'string') return `error body lacks error and code: ${text.slice(0, 80)}`;
  if (expect.code !== undefined && error.code !== expect.code) return `code ${error.code}, expected ${expect.code}`;
  return undefined;
}

/**
 * @param {{ count: number, concurrency?: number, batch?: number, seed?: number, timeoutMs?: number,
 *   script?: URL | string, log?: (line: string) => void }} options
 *   `count`: requests per endpoint; `batch`: requests per endpoint between two state checks (default 2,500);
 *   `script`: the child server (default: the demo server); `log`: progress lines.
 */
export async function runFuzz(options) {
  const { count, concurrency = 32, batch = 2_500, seed = Date.now() % 2 ** 31, timeoutMs = 15_000, log = () => {} } = options;
  const dist = (path) => import(new URL(`dist/esm/${path}`, ROOT).href);
  const { signRequest, parseSignedHeader } = await dist('protocol/signature.js');
  const { canonicalJson } = await dist('protocol/canonical-json.js');
  const started = Date.now();
  const target = await startTarget({ script: options.script });
  const client = createClient(target.baseUrl, { concurrency, timeoutMs });
  const endpoints = Object.fromEntries([...ENDPOINTS, 'raw'].map((e) => [e, { sent: 0, statuses: {}, codes: {}, unexpected: 0, withheld: 0 }]));
  const summary = { seed, perEndpoint: count, endpoints, crashes: 0, stateChanges: 0, healthFailures: 0, stderr: [], timersRan: false, violations: [] };
  const violation = (kind, detail) => {
    if (summary.violations.length < MAX_EXAMPLES) summary.violations.push({ kind, ...detail });
  };
  try {
    const first = await target.info();
    const baseline = JSON.stringify(tableOf(first));
    const ctx = {
      secrets: target.secrets, gossipUrl: target.gossipUrl, burned: new Set(), parseSignedHeader, canonicalJson, signRequest,
      rng: prng(seed), table: tableOf(first), bigEntries: tooManyEntries(),
    };
    const build = builders(ctx);
    const raw = rawRequests(new URL(target.baseUrl).host);

    /** Sends up to `limit` of `specs` (the oracle withholds valid ones that would change state); resolves how many went. */
    const sendAll = async (endpoint, specs, limit = specs.length) => {
      const stats = endpoints[endpoint];
      const judged = [];
      for (const spec of specs) {
        if (judged.length >= limit) break;
        const expect = expectReply(spec, ctx);
        if (expect.unsafe) {
          stats.withheld++; // a valid request that would change the table: not fuzzing
          continue;
        }
        if (expect.fresh !== undefined) ctx.burned.add(expect.fresh);
        judged.push([spec, expect]);
      }
      const expectations = new Map(judged);
      await client.sendAll(judged.map(([spec]) => spec), (spec, res) => {
        const expect = expectations.get(spec);
        if (!res.unsendable) stats.sent++;
        tally(stats.statuses, res.status ?? res.error);
        const code = res.status >= 400 ? parseJson(res.body.toString('utf8'))?.code : undefined;
        if (typeof code === 'string') tally(stats.codes, code);
        const why = judge(spec, expect, res, target.secrets);
        if (why !== undefined) {
          stats.unexpected++;
          violation('unexpected answer', { endpoint, why, request: describe(spec, target.secrets) });
        }
      });
      return judged.length;
    };

    const checkpoint = async () => {
      if (target.exit !== undefined) return false;
      const health = await target.health().catch(() => 0);
      if (health !== 200) {
        summary.healthFailures++;
        violation('health', { status: health });
      }
      const info = await target.info().catch((e) => ({ error: e.message }));
      const table = info.servers === undefined ? info.error : JSON.stringify(tableOf(info));
      if (table !== baseline || info.status !== 'running') {
        summary.stateChanges++;
        violation('state change', { before: baseline, after: table, status: info.status });
      }
      const suspicious = target.suspiciousLines();
      for (const line of suspicious.slice(summary.stderr.length)) violation('stderr', { line });
      summary.stderr = suspicious;
      return target.exit === undefined;
    };

    let alive = true;
    for (let done = 0, b = 0; alive && done < count; done += batch, b++) {
      const n = Math.min(batch, count - done);
      for (const endpoint of ENDPOINTS) {
        const { first: firstPhase, rest } = build[endpoint](b);
        let left = n - await sendAll(endpoint, firstPhase);
        for (let round = 0; left > 0 && round < 10 && target.exit === undefined; round++) left -= await sendAll(endpoint, rest(left), left);
        if (target.exit !== undefined) break;
      }
      for (const bytes of raw) {
        const res = await client.raw(bytes);
        endpoints.raw.sent++;
        for (const s of res.statuses ?? []) tally(endpoints.raw.statuses, s);
        if (res.error !== undefined || res.statuses.length === 0 || res.statuses.some((s) => s < 400 || s >= 500)) {
          endpoints.raw.unexpected++;
          violation('unexpected answer', { endpoint: 'raw', why: res.error ?? `statuses ${res.statuses}`, request: bytes.subarray(0, 120).toString('latin1') });
        }
      }
      alive = await checkpoint();
      const sent = Object.values(endpoints).reduce((a, e) => a + e.sent, 0);
      log(`[fuzz] ${Math.min(done + n, count).toLocaleString('en-US')}/${count.toLocaleString('en-US')} per endpoint, `
        + `${sent.toLocaleString('en-US')} requests, ${Math.round(sent / ((Date.now() - started) / 1000))} req/s, `
        + `${summary.violations.length} violations`);
    }
    if (alive) {
      // The server's own timers must still run: probe and anti-entropy rounds keep counting.
      summary.timersRan = await pollUntil(async () => {
        const s = (await target.info()).stats;
        return s.probeRounds > first.stats.probeRounds && s.antiEntropyRounds > first.stats.antiEntropyRounds ? true : undefined;
      }, 10_000, 'probe and anti-entropy rounds').catch(() => false);
      if (!summary.timersRan) violation('timers', { detail: 'no probe or anti-entropy round since the start' });
    }
  } finally {
    client.close();
    if (target.exit === undefined) {
      await target.close();
      if (target.exit.code !== 0) violation('exit', { detail: `stopped with ${JSON.stringify(target.exit)}` });
    } else {
      summary.crashes++;
      violation('crash', { exit: target.exit, output: [...target.output.stdout, ...target.output.stderr].slice(-20) });
      await target.close();
    }
  }
  summary.durationMs = Date.now() - started;
  const unexpected = Object.values(endpoints).reduce((a, e) => a + e.unexpected, 0);
  summary.ok = unexpected === 0 && summary.crashes === 0 && summary.stateChanges === 0 && summary.healthFailures === 0
    && summary.stderr.length === 0 && summary.timersRan && summary.violations.length === 0;
  return summary;
}
