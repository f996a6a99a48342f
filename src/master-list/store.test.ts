import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogFields, Logger } from '../core/logger.js';
import { masterListEtag, startMasterListStore, type MasterListStore, type MasterListStoreOptions } from './store.js';

const EMPTY = '{"online":[],"offline":[]}';
const LIST_A = JSON.stringify({ online: [{ baseUrl: 'http://a:1/', monitor: false, lastUpdate: 1 }], offline: [] });
const LIST_B = JSON.stringify({ online: [{ baseUrl: 'http://b:1/', monitor: true, lastUpdate: 2 }] });

let dir: string;
let file: string;
const stores: MasterListStore[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shazbot-store-'));
  file = join(dir, 'list.json');
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

async function start(options: Partial<MasterListStoreOptions> = {}): Promise<MasterListStore> {
  const store = await startMasterListStore({ file, ...options });
  stores.push(store);
  return store;
}

function put(url: string, body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'PUT', body, headers: { 'content-type': 'application/json', ...headers } });
}

/** Sends a chunked PUT (no Content-Length) until the server answers; resolves with the status. */
function streamUntilAnswered(url: string, chunkBytes: number): Promise<number> {
  return new Promise((resolveStatus, rejectStatus) => {
    const req = request(url, { method: 'PUT', headers: { 'transfer-encoding': 'chunked' } });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      res.resume();
      resolveStatus(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', (e) => {
      if (!answered) rejectStatus(e);
    });
    const chunk = Buffer.alloc(chunkBytes, 0x20);
    const pump = (): void => {
      // Keep sending until the answer arrives; the server must not buffer all of it.
      while (!answered && !req.destroyed && req.write(chunk)) {
        /* fill the socket buffer */
      }
      if (!answered && !req.destroyed) req.once('drain', pump);
    };
    pump();
  });
}

function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const rec = (level: string) => (message: string, fields?: LogFields) => {
    lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  };
  return { logger: { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') }, lines };
}

describe('startMasterListStore', () => {
  it('answers GET on a missing file with the empty list and its ETag', async () => {
    const store = await start();
    expect(store.url).toBe(`http://127.0.0.1:${store.port}/`);
    const res = await fetch(store.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('etag')).toBe(masterListEtag(Buffer.from(EMPTY)));
    expect(await res.text()).toBe(EMPTY);
  });

  it('computes the ETag as the quoted first 27 base64url characters of sha256', () => {
    // sha256("") = 47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU
    expect(masterListEtag(new Uint8Array())).toBe('"47DEQpj8HBSa-_TImW-5JCeuQeR"');
  });

  it('round-trips a PUT through GET, serves the alias path, and changes the ETag', async () => {
    const store = await start();
    const before = (await fetch(store.url)).headers.get('etag');
    const res = await put(store.url, LIST_A);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    const etag = res.headers.get('etag');
    expect(etag).toBe(masterListEtag(Buffer.from(LIST_A)));
    expect(etag).not.toBe(before);

    const got = await fetch(store.url);
    expect(got.headers.get('etag')).toBe(etag);
    expect(await got.text()).toBe(LIST_A);
    const alias = await fetch(new URL('/master-list', store.url));
    expect(alias.status).toBe(200);
    expect(await alias.text()).toBe(LIST_A);
    expect(await readFile(file, 'utf8')).toBe(LIST_A);

    const second = await put(store.url, LIST_B);
    expect(second.headers.get('etag')).not.toBe(etag);
    expect(await (await fetch(store.url)).text()).toBe(LIST_B);
  });

  it('answers 304 to a matching If-None-Match and HEAD without a body', async () => {
    const store = await start();
    const etag = (await put(store.url, LIST_A)).headers.get('etag') ?? '';
    const cached = await fetch(store.url, { headers: { 'if-none-match': etag } });
    expect(cached.status).toBe(304);
    expect(cached.headers.get('etag')).toBe(etag);
    expect(await cached.text()).toBe('');
    const weak = await fetch(store.url, { headers: { 'if-none-match': `"other", W/${etag}` } });
    expect(weak.status).toBe(304);
    const stale = await fetch(store.url, { headers: { 'if-none-match': '"other"' } });
    expect(stale.status).toBe(200);
    expect(await stale.text()).toBe(LIST_A);

    const head = await fetch(store.url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toBe(etag);
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(LIST_A)));
    expect(await head.text()).toBe('');
  });

  it('enforces If-Match: mismatch is 412, match is 200', async () => {
    const store = await start();
    const first = (await put(store.url, LIST_A)).headers.get('etag') ?? '';
    const mismatch = await put(store.url, LIST_B, { 'if-match': '"not-the-etag"' });
    expect(mismatch.status).toBe(412);
    expect((await mismatch.json()).code).toBe('PRECONDITION_FAILED');
    expect(mismatch.headers.get('etag')).toBe(first);
    expect(await readFile(file, 'utf8')).toBe(LIST_A);

    const weak = await put(store.url, LIST_B, { 'if-match': `W/${first}` });
    expect(weak.status).toBe(412);

    const match = await put(store.url, LIST_B, { 'if-match': first });
    expect(match.status).toBe(200);
    expect(await readFile(file, 'utf8')).toBe(LIST_B);
    const star = await put(store.url, LIST_A, { 'if-match': '*' });
    expect(star.status).toBe(200);
  });

  it('lets the first writer GET-merge-PUT with the empty list ETag; If-Match: * needs an existing file', async () => {
    const store = await start();
    const star = await put(store.url, LIST_A, { 'if-match': '*' });
    expect(star.status).toBe(412);
    const emptyEtag = (await fetch(store.url)).headers.get('etag') ?? '';
    const first = await put(store.url, LIST_A, { 'if-match': emptyEtag });
    expect(first.status).toBe(200);
    expect(await readFile(file, 'utf8')).toBe(LIST_A);
  });

  it('honours If-None-Match: * on PUT (create only)', async () => {
    const store = await start();
    expect((await put(store.url, LIST_A, { 'if-none-match': '*' })).status).toBe(200);
    const again = await put(store.url, LIST_B, { 'if-none-match': '*' });
    expect(again.status).toBe(412);
    expect(await readFile(file, 'utf8')).toBe(LIST_A);
  });

  it('lets exactly one of two concurrent PUTs with the same If-Match win', async () => {
    const store = await start();
    const etag = (await put(store.url, LIST_A)).headers.get('etag') ?? '';
    const bodies = [LIST_B, JSON.stringify({ online: [], offline: [{ baseUrl: 'http://c:1/', monitor: false, lastUpdate: 3 }] })];
    const results = await Promise.all(bodies.map((b) => put(store.url, b, { 'if-match': etag })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 412]);
    const winner = bodies[results.findIndex((r) => r.status === 200)];
    expect(await readFile(file, 'utf8')).toBe(winner);
  });

  it('requires the exact Authorization value when auth is configured', async () => {
    const { logger, lines } = recordingLogger();
    const auth = 'Bearer s3cret-token-value';
    const store = await start({ auth, logger });
    const missing = await put(store.url, LIST_A);
    expect(missing.status).toBe(401);
    expect((await missing.json()).code).toBe('UNAUTHORIZED');
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const wrong = await put(store.url, LIST_A, { authorization: 'Bearer s3cret-token-valuf' });
    expect(wrong.status).toBe(401);
    const prefix = await put(store.url, LIST_A, { authorization: 'Bearer s3cret' });
    expect(prefix.status).toBe(401);
    expect((await fetch(store.url)).headers.get('etag')).toBe(masterListEtag(Buffer.from(EMPTY)));

    const right = await put(store.url, LIST_A, { authorization: auth });
    expect(right.status).toBe(200);
    // GET stays open: servers read the list without credentials.
    expect(await (await fetch(store.url)).text()).toBe(LIST_A);
    expect(lines.some((l) => l.startsWith('warn') && l.includes('Authorization'))).toBe(true);
    expect(lines.join('\n')).not.toContain('s3cret');
  });

  it('warns when PUT is open', async () => {
    const { logger, lines } = recordingLogger();
    await start({ logger });
    expect(lines.some((l) => l.startsWith('warn') && l.includes('no auth'))).toBe(true);
  });

  it('answers 413 to a declared oversized body and leaves the file alone', async () => {
    const store = await start({ maxBodyBytes: 1024 });
    const big = JSON.stringify({ online: [], pad: 'x'.repeat(10_000) });
    const res = await put(store.url, big);
    expect(res.status).toBe(413);
    expect((await res.json()).code).toBe('TOO_LARGE');
    await expect(readFile(file)).rejects.toMatchObject({ code: 'ENOENT' });
    // The store still works afterwards.
    expect((await put(store.url, LIST_A)).status).toBe(200);
  });

  it('answers 413 to an endless chunked body without reading it all', async () => {
    const store = await start({ maxBodyBytes: 64 * 1024 });
    expect(await streamUntilAnswered(store.url, 16 * 1024)).toBe(413);
    expect((await fetch(store.url)).status).toBe(200);
  });

  it('accepts a body of exactly maxBodyBytes', async () => {
    const body = JSON.stringify({ online: [], pad: 'y'.repeat(100) });
    const store = await start({ maxBodyBytes: Buffer.byteLength(body) });
    expect((await put(store.url, body)).status).toBe(200);
    expect(await readFile(file, 'utf8')).toBe(body);
  });

  it('answers 400 to junk and shallowly invalid lists', async () => {
    const store = await start();
    const junk: (string | Uint8Array<ArrayBuffer>)[] = [
      'not json',
      '',
      '[]',
      'null',
      '42',
      '{"offline":[]}',
      '{"online":{}}',
      '{"online":[],"offline":null}',
      '{"online":[],"offline":{}}',
      new Uint8Array([0x7b, 0x22, 0x6f, 0x6e, 0x6c, 0x69, 0x6e, 0x65, 0x22, 0x3a, 0x5b, 0x22, 0xff, 0x22, 0x5d, 0x7d]),
    ];
    for (const body of junk) {
      const res = await put(store.url, body);
      expect(res.status, String(body)).toBe(400);
      expect((await res.json()).code).toBe('MALFORMED');
    }
    await expect(readFile(file)).rejects.toMatchObject({ code: 'ENOENT' });
    // `offline` is optional; entries are not validated here.
    expect((await put(store.url, '{"online":[1,"x"]}')).status).toBe(200);
  });

  it('answers 404 off its paths and 405 with Allow to other methods', async () => {
    const store = await start();
    expect((await fetch(new URL('/other', store.url))).status).toBe(404);
    expect((await put(new URL('/master-list/x', store.url).href, LIST_A)).status).toBe(404);
    const post = await fetch(store.url, { method: 'POST', body: LIST_A });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD, PUT');
    expect((await fetch(store.url, { method: 'DELETE' })).status).toBe(405);
    // The query string is ignored.
    expect((await fetch(`${store.url}?x=1`)).status).toBe(200);
  });

  it('never shows a half-written file and leaves no temp files', async () => {
    const store = await start();
    const big = (tag: string): string =>
      JSON.stringify({
        online: Array.from({ length: 5000 }, (_, i) => ({ baseUrl: `http://${tag}${i}:1/`, monitor: false, lastUpdate: i })),
      });
    const versions = [big('a'), big('b'), big('c')];
    expect((await put(store.url, versions[0] ?? '')).status).toBe(200);
    const seen = new Set<string>();
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const text = await (await fetch(store.url)).text();
        seen.add(text);
        const disk = await readFile(file, 'utf8');
        expect(versions).toContain(disk);
      }
    })();
    for (const v of [versions[1], versions[2], versions[0]]) {
      expect((await put(store.url, v ?? '')).status).toBe(200);
    }
    writing = false;
    await reader;
    for (const text of seen) expect(versions).toContain(text);
    expect(await readFile(file, 'utf8')).toBe(versions[0]);
    expect(await readdir(dir)).toEqual(['list.json']);
  });

  it('survives an aborted upload', async () => {
    const store = await start();
    await new Promise<void>((resolveAbort) => {
      const req = request(store.url, { method: 'PUT', headers: { 'content-length': '1000' } });
      req.on('error', () => resolveAbort());
      req.on('close', () => resolveAbort());
      req.write('{"online":[', () => req.destroy());
    });
    expect((await put(store.url, LIST_A)).status).toBe(200);
    expect(await readFile(file, 'utf8')).toBe(LIST_A);
  });

  it('serves an existing file as is', async () => {
    await writeFile(file, LIST_B);
    const store = await start();
    const res = await fetch(store.url);
    expect(await res.text()).toBe(LIST_B);
    expect(res.headers.get('etag')).toBe(masterListEtag(Buffer.from(LIST_B)));
  });

  it('creates the directory of the file', async () => {
    file = join(dir, 'nested', 'deeper', 'list.json');
    const store = await start();
    expect((await put(store.url, LIST_A)).status).toBe(200);
    expect(await readFile(file, 'utf8')).toBe(LIST_A);
  });

  it('rejects invalid options with CONFIG_INVALID', async () => {
    await expect(startMasterListStore({ file: '' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(startMasterListStore({ file, port: 70000 })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(startMasterListStore({ file, auth: '' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(startMasterListStore({ file, maxBodyBytes: 0 })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(startMasterListStore({ file: dir })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('rejects when the port is taken', async () => {
    const store = await start();
    await expect(startMasterListStore({ file, port: store.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('closes idempotently, dropping keep-alive connections', async () => {
    const store = await startMasterListStore({ file });
    // fetch keeps this connection alive; close() must not wait for it to time out.
    expect((await fetch(store.url)).status).toBe(200);
    const first = store.close();
    const second = store.close();
    expect(second).toBe(first);
    await first;
    await store.close();
    await expect(fetch(store.url)).rejects.toThrow();
  });
});
