import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpTransport } from './http-transport.js';
import { TransportError } from './transport.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface TestServer {
  readonly url: string;
  readonly server: Server;
  /** Every connection the server accepted, in order. */
  readonly sockets: Socket[];
  /** Raw header lists of every request, in order. */
  readonly rawHeaders: string[][];
}

const open: Server[] = [];

async function serve(handler: Handler): Promise<TestServer> {
  const sockets: Socket[] = [];
  const rawHeaders: string[][] = [];
  const server = createServer((req, res) => {
    rawHeaders.push(req.rawHeaders);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.on('connection', (s: Socket) => sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  open.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`, server, sockets, rawHeaders };
}

afterEach(async () => {
  for (const s of open.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

const ok: Handler = (_req, res, body) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ echo: body }));
};

async function failure(p: Promise<unknown>): Promise<TransportError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(TransportError);
  return e as TransportError;
}

describe('createHttpTransport over HTTP', () => {
  it('sends the body with only the headers given plus Host, Content-Length and Connection, and returns status, lower-case headers and body', async () => {
    const s = await serve(ok);
    const t = createHttpTransport();
    const res = await t.request({ method: 'POST', url: s.url, headers: { 'content-type': 'application/json', authorization: 'X y' }, body: '{"a":"é"}', timeoutMs: 2_000, maxResponseBytes: 1_000 });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.body)).toEqual({ echo: '{"a":"é"}' });
    const names = s.rawHeaders[0]!.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()).sort();
    expect(names).toEqual(['authorization', 'connection', 'content-length', 'content-type', 'host']);
    expect(s.rawHeaders[0]).toContain('10'); // content-length in bytes (9 characters)
  });

  it('reuses one connection for requests to the same server within the idle time', async () => {
    const s = await serve(ok);
    const t = createHttpTransport();
    for (let i = 0; i < 3; i++) {
      const res = await t.request({ method: 'POST', url: s.url, body: String(i), timeoutMs: 2_000, maxResponseBytes: 1_000 });
      expect(res.status).toBe(200);
    }
    expect(s.sockets).toHaveLength(1);
  });

  it('closes an idle connection itself, before a 5 s server keep-alive timeout could race a request', async () => {
    const s = await serve(ok);
    const t = createHttpTransport();
    await t.request({ method: 'GET', url: s.url, timeoutMs: 2_000, maxResponseBytes: 1_000 });
    const socket = s.sockets[0]!;
    const closedAt = await new Promise<number>((resolve) => {
      const t0 = Date.now();
      socket.on('close', () => resolve(Date.now() - t0));
      socket.on('end', () => undefined);
    });
    // The client closes it (the server's own keep-alive timeout is 5 s).
    expect(closedAt).toBeLessThan(4_900);
  }, 10_000);

  it('fails with kind "timeout" when no answer arrives in time, and the next request still works', async () => {
    let first = true;
    const s = await serve((req, res, body) => {
      if (first) { first = false; return; } // never answers the first
      ok(req, res, body);
    });
    const t = createHttpTransport();
    expect((await failure(t.request({ method: 'GET', url: s.url, timeoutMs: 100, maxResponseBytes: 1_000 }))).kind).toBe('timeout');
    expect((await t.request({ method: 'GET', url: s.url, timeoutMs: 2_000, maxResponseBytes: 1_000 })).status).toBe(200);
  });

  it('fails with kind "too-large" on a declared or a streamed body over the limit', async () => {
    const big = 'x'.repeat(5_000);
    const s = await serve((req, res) => {
      if (req.url === '/chunked') {
        res.write(big);
        res.end(big);
      } else {
        res.end(big);
      }
    });
    const t = createHttpTransport();
    expect((await failure(t.request({ method: 'GET', url: s.url, timeoutMs: 2_000, maxResponseBytes: 1_000 }))).kind).toBe('too-large');
    expect((await failure(t.request({ method: 'GET', url: s.url.replace('/x', '/chunked'), timeoutMs: 2_000, maxResponseBytes: 6_000 }))).kind).toBe('too-large');
  });

  it('fails with kind "network" when nothing listens', async () => {
    const s = await serve(ok);
    const url = s.url;
    s.server.close();
    await new Promise((resolve) => s.server.once('close', resolve));
    expect((await failure(createHttpTransport().request({ method: 'GET', url, timeoutMs: 2_000, maxResponseBytes: 1_000 }))).kind).toBe('network');
  });

  it('resolves any status, redirects included, without following them', async () => {
    const s = await serve((_req, res) => {
      res.statusCode = 302;
      res.setHeader('location', 'http://169.254.169.254/');
      res.end();
    });
    const res = await createHttpTransport().request({ method: 'GET', url: s.url, timeoutMs: 2_000, maxResponseBytes: 1_000 });
    expect(res.status).toBe(302);
    expect(s.rawHeaders).toHaveLength(1);
  });

  it('rejects other schemes with kind "unsupported"', async () => {
    expect((await failure(createHttpTransport().request({ method: 'GET', url: 'ftp://127.0.0.1/', timeoutMs: 100, maxResponseBytes: 10 }))).kind).toBe('unsupported');
  });
});

describe('createHttpTransport over file:', () => {
  it('answers 404 for a missing file, then PUT writes and GET reads it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shazbot-transport-'));
    try {
      const url = pathToFileURL(join(dir, 'list.json')).href;
      const t = createHttpTransport();
      expect((await t.request({ method: 'GET', url, timeoutMs: 1_000, maxResponseBytes: 100 })).status).toBe(404);
      expect((await t.request({ method: 'PUT', url, body: '{"online":[]}', timeoutMs: 1_000, maxResponseBytes: 100 })).status).toBe(204);
      expect(await readFile(join(dir, 'list.json'), 'utf8')).toBe('{"online":[]}');
      expect((await t.request({ method: 'GET', url, timeoutMs: 1_000, maxResponseBytes: 100 })).body).toBe('{"online":[]}');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
