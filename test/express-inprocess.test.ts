/**
 * Several instances in one process, each behind a real Express 5 server on a
 * 127.0.0.1 ephemeral port, with the real clock, randomness and HTTP
 * transport, sharing a real master-list store. Every wait polls with a
 * deadline; the one fixed window (scenario 3) asserts throughout.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cryptoRandom } from '../src/core/system-random.js';
import { makeNonce, signRequest, verifyReply } from '../src/protocol/signature.js';
import { CONTROL, ExpressCluster, SECRET, holdsFor, listOf, post, type ListView, type Node } from './helpers/express-cluster.js';
import { pollUntil } from './helpers/processes.js';

/** Deadline for convergence and for news to spread. */
const DEADLINE_MS = 15_000;

let cluster: ExpressCluster;

beforeEach(async () => {
  cluster = new ExpressCluster();
  await cluster.open();
});

afterEach(async () => {
  await cluster.close();
});

/** Every node's list view, in node order. */
function views(nodes: readonly Node[]): Promise<ListView[]> {
  return Promise.all(nodes.map(listOf));
}

/** Waits until every node lists exactly `nodes` online and nothing offline. */
async function converge(nodes: readonly Node[]): Promise<void> {
  const all = nodes.map((n) => n.baseUrl).sort();
  await pollUntil(async (report) => {
    const seen = await views(nodes);
    report({ online: seen.map((v) => v.online), log: nodes.flatMap((n) => n.log).slice(-5) });
    return seen.every((v) => sameList(v.online, all) && v.offline.length === 0) ? true : undefined;
  }, { timeoutMs: DEADLINE_MS, intervalMs: 50, description: `${nodes.length} nodes to list each other online` });
}

/** Waits until every node of `observers` lists `target` offline, and returns the reason each gives. */
async function untilOffline(observers: readonly Node[], target: Node, timeoutMs = DEADLINE_MS): Promise<Array<string | undefined>> {
  return pollUntil(async (report) => {
    const seen = await views(observers);
    report(seen);
    const done = seen.every((v) => v.offline.includes(target.baseUrl) && !v.online.includes(target.baseUrl));
    return done ? seen.map((v) => v.reasons[target.baseUrl]) : undefined;
  }, { timeoutMs, intervalMs: 50, description: `${target.baseUrl} to be listed offline` });
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The code of the last error the gossip route of `node` caught. */
function lastGossipCode(node: Node): unknown {
  return (node.gossipErrors.at(-1) as { code?: unknown } | undefined)?.code;
}

describe('in-process cluster over real HTTP (Express 5)', () => {
  it('four instances converge, and the master list names all four', async () => {
    const nodes = await cluster.addMany(4);
    await converge(nodes);
    const all = nodes.map((n) => n.baseUrl).sort();
    await pollUntil(async (report) => {
      const stored = await cluster.storedList();
      report(stored);
      const online = (stored?.online ?? []).map((s) => s.baseUrl).sort();
      return sameList(online, all) ? true : undefined;
    }, { timeoutMs: DEADLINE_MS, intervalMs: 100, description: 'the master list to name all four' });
    // The public list shows only online servers; with the control secret offline ones appear too.
    const res = await fetch(`${nodes[0]!.baseUrl}clustershazbot/list`);
    const pub = (await res.json()) as { online: unknown[]; offline?: unknown };
    expect(pub.online).toHaveLength(4);
    expect(pub.offline).toBeUndefined();
  });

  it('refuses unsigned, forged, malformed, junk and replayed gossip without changing state', async () => {
    const [a, b] = await cluster.addMany(2);
    await converge([a!, b!]);
    const node = a!;
    const target = `${node.baseUrl}clustershazbot/gossip`;
    const before = JSON.stringify(node.cluster.members());
    const unchanged = (): void => expect(JSON.stringify(node.cluster.members())).toBe(before);
    const intruder = { message: 'gossip', online: [{ baseUrl: 'http://127.0.0.1:9/', monitor: false, lastUpdate: Date.now() }] };

    // No Authorization header.
    expect((await post(node, 'gossip', intruder)).status).toBe(401);
    expect(lastGossipCode(node)).toBe('UNAUTHORIZED');
    unchanged();

    // Signed with a key the cluster does not have.
    const forged = signRequest('not-the-cluster-secret-0123456789', target, intruder, Date.now(), makeNonce(cryptoRandom));
    expect((await post(node, 'gossip', intruder, { authorization: forged })).status).toBe(401);
    expect(lastGossipCode(node)).toBe('UNAUTHORIZED');
    unchanged();

    // Not JSON: express.json() answers 400 itself; the handler never runs.
    const errorsBefore = node.gossipErrors.length;
    expect((await post(node, 'gossip', '{"message":"gossip","online":[')).status).toBe(400);
    expect(node.gossipErrors).toHaveLength(errorsBefore);
    unchanged();

    // Correctly signed, but carrying an entry no server could have: MalformedError (400), which the seed's route maps to 401.
    const junk = { message: 'gossip', online: [{ baseUrl: 'javascript:alert(1)', monitor: false, lastUpdate: Date.now() }] };
    const junkAuth = signRequest(SECRET, target, junk, Date.now(), makeNonce(cryptoRandom));
    expect((await post(node, 'gossip', junk, { authorization: junkAuth })).status).toBe(401);
    expect(lastGossipCode(node)).toBe('MALFORMED');
    expect((node.gossipErrors.at(-1) as { status?: unknown }).status).toBe(400);
    unchanged();

    // A valid request is answered once with a signed reply...
    const valid = { message: 'gossip', online: [], offline: [] };
    const nonce = makeNonce(cryptoRandom);
    const validAuth = signRequest(SECRET, target, valid, Date.now(), nonce);
    const first = await post(node, 'gossip', valid, { authorization: validAuth });
    expect(first.status).toBe(200);
    expect(verifyReply([SECRET], target, nonce, first.body)).toBeDefined();
    expect((first.body as { online: Array<{ baseUrl: string }> }).online.map((s) => s.baseUrl).sort()).toEqual([a!.baseUrl, b!.baseUrl].sort());
    // ...refused when replayed verbatim...
    expect((await post(node, 'gossip', valid, { authorization: validAuth })).status).toBe(401);
    expect(lastGossipCode(node)).toBe('REPLAYED');
    // ...and refused by another server, since the signature binds the target URL.
    expect((await post(b!, 'gossip', valid, { authorization: validAuth })).status).toBe(401);
    expect(lastGossipCode(b!)).toBe('UNAUTHORIZED');
    unchanged();
    expect((await listOf(node)).online).not.toContain('http://127.0.0.1:9/');
  });

  it('control takes a server out of every list and keeps it out until it is brought back', async () => {
    const nodes = await cluster.addMany(3);
    await converge(nodes);
    const [x, ...others] = nodes as [Node, Node, Node];
    const control = (online: boolean, secret = CONTROL) =>
      post(x, 'control', { message: 'control', online }, { authorization: `Bearer ${secret}` });

    const wrong = await control(false, 'not-the-control-secret-0123456789');
    expect(wrong.status).toBe(401);
    expect(x.cluster.self().state).toBe('online');

    const off = await control(false);
    expect(off).toEqual({ status: 200, body: { success: true } });
    expect(x.cluster.self()).toMatchObject({ state: 'offline', reason: 'admin' });
    expect(await untilOffline(others, x)).toEqual(['admin', 'admin']);

    // Gossip goes on for 2 s (about ten rounds per server): x must never reappear online anywhere.
    const checks = await holdsFor(2_000, async () => {
      for (const v of await views(nodes)) {
        expect(v.online).not.toContain(x.baseUrl);
        expect(v.reasons[x.baseUrl]).toBe('admin');
      }
    });
    expect(checks).toBeGreaterThan(5);

    const on = await control(true);
    expect(on.status).toBe(200);
    await converge(nodes);
  });

  it('a server that dies without a word is listed offline as failed by everyone else', async () => {
    const nodes = await cluster.addMany(3);
    await converge(nodes);
    const [victim, ...others] = nodes as [Node, Node, Node];
    await victim.kill();
    expect(await untilOffline(others, victim)).toEqual(['failed', 'failed']);
    // The survivors still list each other online.
    for (const v of await views(others)) expect(v.online).toEqual(others.map((n) => n.baseUrl).sort());
  });

  it('a graceful shutdown is known to every peer as "left" when it resolves, and reaches the master list', async () => {
    const [leaver, ...others] = await Promise.all([
      cluster.add({ updateMasterListOnShutdown: true }),
      cluster.add(),
      cluster.add(),
    ]);
    const nodes = [leaver, ...others];
    await converge(nodes);
    await pollUntil(async () => ((await cluster.storedList())?.online.some((s) => s.baseUrl === leaver.baseUrl) ? true : undefined), {
      timeoutMs: DEADLINE_MS, intervalMs: 100, description: 'the master list to name the leaver',
    });

    const started = Date.now();
    await leaver.cluster.shutdown();
    // Shutdown told every peer directly and waited for their answers, well within its time limit.
    expect(Date.now() - started).toBeLessThan(leaver.cluster.config.shutdownTimeoutMs);
    expect(leaver.cluster.status).toBe('stopped');
    // The first time each peer is seen listing it offline, the reason is already "left", not "failed".
    expect(await untilOffline(others, leaver, 1_000)).toEqual(['left', 'left']);

    const stored = await cluster.storedList();
    expect(stored?.online.map((s) => s.baseUrl)).not.toContain(leaver.baseUrl);
    expect(stored?.offline?.find((s) => s.baseUrl === leaver.baseUrl)?.reason).toBe('left');

    // The stopped instance's routes answer, but refuse: the seed maps its errors to 401 and 500.
    expect((await post(leaver, 'gossip', { message: 'gossip', online: [] })).status).toBe(401);
    expect((await fetch(`${leaver.baseUrl}clustershazbot/list`)).status).toBe(500);
    // Gossip goes on among the others and the departure stays recorded as "left".
    await holdsFor(1_000, async () => {
      for (const v of await views(others)) expect(v.reasons[leaver.baseUrl]).toBe('left');
    });
  });
});
