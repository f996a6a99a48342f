import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createRequestHandler } from '../adapters/node.js';
import { createCluster } from '../engine/cluster.js';
import { closeServer } from '../../test/helpers/express-cluster.js';
import { runCli } from './program.js';
import type { StatusReport } from './report.js';
import { formatBytes, formatStateTable, parseStateSummary, type StateSummary } from './state-report.js';
import { formatReport } from './table.js';

const NOW = Date.UTC(2030, 0, 2, 3, 4, 5);

const map = (name: string, keys: number, bytes: number, tombstones = 0, rejectedWrites = 0): Record<string, unknown> => ({
  name, keys, bytes, tombstones, rejectedWrites, localWrites: 1, remoteChanges: 0, syncChanges: 0,
});
const info = (state: unknown): unknown => ({ now: NOW, servers: [], extensions: { state } });

describe('parseStateSummary', () => {
  it('reads readiness, the sync outcome and each map, sorted by name', () => {
    const body = info({ ready: true, sync: { outcome: 'synced' }, maps: [map('sessions', 3, 2_048, 1, 2), map('flags', 12, 300)], peers: {} });
    expect(parseStateSummary(body)).toEqual({
      ready: true, sync: 'synced',
      maps: [{ name: 'flags', keys: 12, bytes: 300, tombstones: 0, rejected: 0 }, { name: 'sessions', keys: 3, bytes: 2_048, tombstones: 1, rejected: 2 }],
    });
  });

  it('is undefined without a state, or with one it cannot read', () => {
    for (const body of [{ now: NOW, servers: [] }, info(undefined), info('x'), info({ ready: 'yes', maps: [] }), info({ ready: true }), null]) {
      expect(parseStateSummary(body)).toBeUndefined();
    }
  });

  it('leaves out malformed maps and removes terminal escapes from names', () => {
    const body = info({
      ready: false, sync: { outcome: 'pending\u001b[2J' },
      maps: [map('ok', 1, 1), map('neg', -1, 1), map('frac', 1.5, 1), { name: 'missing' }, map('', 1, 1), map('x'.repeat(300), 1, 1), map('red\u001b[31m', 2, 2), 7],
    });
    expect(parseStateSummary(body)).toEqual({
      ready: false, sync: 'pending',
      maps: [{ name: 'ok', keys: 1, bytes: 1, tombstones: 0, rejected: 0 }, { name: 'red', keys: 2, bytes: 2, tombstones: 0, rejected: 0 }],
    });
  });
});

describe('formatStateTable', () => {
  const state: StateSummary = {
    ready: true, sync: 'synced',
    maps: [{ name: 'flags', keys: 12, bytes: 300, tombstones: 0, rejected: 0 }, { name: 'sessions', keys: 45_000, bytes: 3_500_000, tombstones: 17, rejected: 2 }],
  };

  it('says whether the state is ready, then aligns one row per map (numbers to the right)', () => {
    expect(formatStateTable(state).split('\n')).toEqual([
      'replicated state: ready (initial sync: synced), 2 maps',
      'MAP         KEYS    BYTES  TOMBSTONES  REJECTED',
      'flags         12    300 B           0         0',
      'sessions  45,000  3.3 MiB          17         2',
    ]);
  });

  it('is empty without maps, and follows the servers in the report after a blank line', () => {
    expect(formatStateTable({ ready: true, sync: 'alone', maps: [] })).toBe('');
    const report: StatusReport = { url: 'http://10.0.0.1:3000/', source: 'info', offlineIncluded: true, now: NOW, servers: [], state };
    const text = formatReport(report);
    expect(text).toContain('\nSERVER  STATE  MONITOR  VERSION  LAST CONTACT\n\nreplicated state: ready (initial sync: synced), 2 maps\nMAP ');
    expect(formatReport({ ...report, state: { ...state, maps: [] } })).not.toContain('replicated state');
  });

  it.each([[0, '0 B'], [1_023, '1023 B'], [1_024, '1.0 KiB'], [1_536, '1.5 KiB'], [5 * 1024 ** 3, '5.0 GiB'], [3 * 1024 ** 5, '3072.0 TiB']])(
    'formatBytes(%d) is "%s"', (n, text) => {
      expect(formatBytes(n)).toBe(text);
    },
  );
});

describe('status with a replicated state (a real instance on node:http)', () => {
  it('prints its maps after the servers, and --json carries them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shazbot-cli-state-'));
    const control = 'cli-state-control-secret-0123456789';
    const holder: { cluster?: ReturnType<typeof createCluster> } = {};
    const handle = createRequestHandler({ cluster: () => holder.cluster });
    const server = createServer((req, res) => void handle(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const cluster = createCluster({
      baseUrl: url, secret: 'cli-state-gossip-secret-0123456789', controlSecret: control,
      masterListUrl: pathToFileURL(join(dir, 'list.json')).href,
    });
    holder.cluster = cluster;
    try {
      await cluster.start();
      await cluster.state.ready();
      const sessions = cluster.state.map('sessions');
      await sessions.set('s-1', { user: 'ada' });
      await sessions.set('s-2', { user: 'bob' });
      await sessions.delete('s-2');
      const run = async (args: string[]): Promise<string> => {
        const stdout = new PassThrough();
        let out = '';
        stdout.on('data', (d: Buffer) => (out += d.toString()));
        expect(await runCli(args, { stdout, stderr: new PassThrough(), env: { SHAZBOT_CONTROL_SECRET: control } })).toBe(0);
        return out;
      };
      const lines = (await run(['status', url])).trimEnd().split('\n');
      expect(lines.slice(-3)).toEqual([
        'replicated state: ready (initial sync: alone), 1 map',
        'MAP       KEYS  BYTES  TOMBSTONES  REJECTED',
        expect.stringMatching(/^sessions {5}1 +\d+ B {11}1 {9}0$/),
      ]);
      const report = JSON.parse(await run(['status', url, '--json'])) as StatusReport;
      expect(report.state).toEqual({ ready: true, sync: 'alone', maps: [{ name: 'sessions', keys: 1, bytes: expect.any(Number), tombstones: 1, rejected: 0 }] });
    } finally {
      await cluster.shutdown();
      await closeServer(server);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
