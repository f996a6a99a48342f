/**
 * The adapters' session gate on its own (the framework middleware around it
 * is tested over real HTTP in test/state-sessions.test.ts): which requests
 * wait, for how long, and what the others are answered.
 */
import { describe, expect, it } from 'vitest';
import { createCluster, type Cluster } from '../engine/cluster.js';
import { ConfigError } from '../errors.js';
import { encodeToken } from '../state/session.js';
import { checkSessionOptions, openSession, type SessionGate } from './state-session.js';

/** An instance that is never started: its state takes local writes, and waits time out on its clock. */
function idle(): Cluster {
  return createCluster({
    baseUrl: 'http://127.0.0.1:9/', secret: 'state-session-gossip-secret-0123456789', controlSecret: 'state-session-control-secret-0123456789',
    masterListUrl: 'http://127.0.0.1:9/list.json',
  });
}

/** A token naming a write no replica holds. */
const unheld = encodeToken([{ map: 'items', key: 'k', version: { t: Date.now() * 1000, replica: 'http://127.0.0.1:8/#elsewhere' } }]);

function replyOf(gate: SessionGate): { status: number; code: unknown; retryAfter: string | undefined } {
  if (!('reply' in gate)) throw new Error(`expected a reply, got the session ${String(gate.token)}`);
  return { status: gate.reply.status, code: (JSON.parse(gate.reply.body) as { code: unknown }).code, retryAfter: gate.reply.headers['retry-after'] };
}

describe('openSession', () => {
  it('lets a request without a session (absent or blank header) through at once', async () => {
    for (const header of [undefined, '', '   ']) expect(await openSession({ cluster: idle() }, 2_000, header)).toEqual({ token: undefined });
  });

  it('lets a session of no writes through without any instance', async () => {
    const empty = encodeToken([]);
    expect(await openSession({ cluster: () => undefined }, 2_000, empty)).toEqual({ token: empty });
  });

  it('answers 400 MALFORMED for a header that is not a token, repeated headers included', async () => {
    for (const header of ['not a token', '%%%', Buffer.from('[["m"]]').toString('base64url'), [unheld, unheld]]) {
      expect(replyOf(await openSession({ cluster: idle() }, 2_000, header))).toEqual({ status: 400, code: 'MALFORMED', retryAfter: undefined });
    }
  });

  it('lets a session through once this replica holds its writes', async () => {
    const cluster = idle();
    const { token } = await cluster.state.map('items').set('k', { n: 1 });
    expect(await openSession({ cluster }, 2_000, token)).toEqual({ token });
    // A newer write of the key satisfies a session that saw an older one.
    const newer = await cluster.state.map('items').set('k', { n: 2 });
    expect(newer.token).not.toBe(token);
    expect(await openSession({ cluster: () => cluster }, 2_000, token)).toEqual({ token });
  });

  it('answers 503 STALE_READ with retry-after once the wait times out', async () => {
    const started = Date.now();
    expect(replyOf(await openSession({ cluster: idle() }, 50, unheld))).toEqual({ status: 503, code: 'STALE_READ', retryAfter: '1' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('answers 503 NOT_STARTED with retry-after when there is no instance to wait on', async () => {
    expect(replyOf(await openSession({ cluster: () => undefined }, 2_000, unheld))).toEqual({ status: 503, code: 'NOT_STARTED', retryAfter: '1' });
  });

  it('stops waiting by itself on an instance that has shut down (its timers are gone)', async () => {
    const cluster = idle();
    await cluster.shutdown();
    expect(cluster.status).toBe('stopped');
    const started = Date.now();
    expect(replyOf(await openSession({ cluster }, 20, unheld))).toMatchObject({ status: 503, code: 'STALE_READ' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('answers 500 without details for an instance created without a replicated state', async () => {
    const cluster = createCluster(
      { baseUrl: 'http://127.0.0.1:9/', secret: 'state-session-gossip-secret-0123456789', controlSecret: 'state-session-control-secret-0123456789', masterListUrl: 'http://127.0.0.1:9/l' },
      { state: false },
    );
    expect(replyOf(await openSession({ cluster }, 2_000, unheld))).toEqual({ status: 500, code: 'INTERNAL', retryAfter: undefined });
  });
});

describe('checkSessionOptions', () => {
  it('defaults to 2 s and refuses a wait that is not a finite number of ms ≥ 0 with ConfigError', () => {
    expect(checkSessionOptions({})).toBe(2_000);
    expect(checkSessionOptions({ timeoutMs: 0 })).toBe(0);
    for (const timeoutMs of [-1, Number.NaN, Number.POSITIVE_INFINITY, '100' as unknown as number]) {
      expect(() => checkSessionOptions({ timeoutMs })).toThrow(ConfigError);
    }
  });
});
