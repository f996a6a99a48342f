/** readJsonBody on a real node:http server, fed by real clients. */
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closeServer } from '../../test/helpers/adapter-suite.js';
import { pollUntil } from '../../test/helpers/processes.js';
import { isShazbotError } from '../errors.js';
import { readJsonBodyAndText } from './body.js';

const readJsonBody = async (req: Parameters<typeof readJsonBodyAndText>[0], limit: number): Promise<unknown> => (await readJsonBodyAndText(req, limit)).value;

/** What readJsonBody settled with: the value, or the error's code and message. */
type Outcome = { value: unknown } | { code: string; message: string };

const LIMIT = 64;
let server: Server | undefined;
/** Every outcome, in arrival order, including requests whose client went away. */
let outcomes: Outcome[] = [];
/** Requests the server has begun to handle. */
let received = 0;
let url = '';

/** Serves readJsonBody(req, LIMIT), after `prepare` (an earlier parser, say), and answers with its outcome. */
async function serve(prepare?: (req: IncomingMessage) => Promise<void>): Promise<void> {
  outcomes = [];
  received = 0;
  server = createServer((req, res) => {
    received++;
    void (async () => {
      await prepare?.(req);
      const outcome: Outcome = await readJsonBody(req, LIMIT).then(
        (value) => ({ value }),
        (e: unknown) => (isShazbotError(e) ? { code: e.code, message: e.message } : { code: 'OTHER', message: String(e) }),
      );
      outcomes.push(outcome);
      if (!req.readableEnded) req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(outcome));
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

afterEach(async () => {
  if (server !== undefined) await closeServer(server);
  server = undefined;
});

async function post(body: string | ReadableStream<Uint8Array>, headers: Record<string, string> = {}): Promise<Outcome> {
  const res = await fetch(url, { method: 'POST', body, headers, duplex: 'half' } as RequestInit);
  return (await res.json()) as Outcome;
}

function streamOf(...parts: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
      controller.close();
    },
  });
}

describe('readJsonBody', () => {
  it('parses JSON whatever the content-type, and reads an empty body as {}', async () => {
    await serve();
    expect(await post('{"a":[1,2]}', { 'content-type': 'application/json' })).toEqual({ value: { a: [1, 2] } });
    expect(await post('"text"', { 'content-type': 'text/plain' })).toEqual({ value: 'text' });
    expect(await post('')).toEqual({ value: {} });
    expect(await post(' \n ')).toEqual({ value: {} });
    expect(await post(streamOf('{"a":', '1}'))).toEqual({ value: { a: 1 } });
  });

  it('refuses text that is not JSON with MALFORMED', async () => {
    await serve();
    for (const body of ['{"a":', 'undefined', '\u0000', '{"a":1}}']) {
      expect(await post(body)).toEqual({ code: 'MALFORMED', message: 'body is not valid JSON' });
    }
  });

  it('refuses a body over the limit with TOO_LARGE, declared or streamed, and takes one at the limit', async () => {
    await serve();
    const tooLarge = { code: 'TOO_LARGE', message: `body exceeds ${LIMIT} bytes` };
    const atLimit = `"${'x'.repeat(LIMIT - 2)}"`;
    expect(await post(atLimit)).toEqual({ value: 'x'.repeat(LIMIT - 2) });
    expect(await post(`"${'x'.repeat(LIMIT - 1)}"`)).toEqual(tooLarge);
    // Chunked: no content-length to go by, the count stops it.
    expect(await post(streamOf(atLimit, ' '.repeat(LIMIT)))).toEqual(tooLarge);
    // Multi-byte characters count in bytes.
    expect(await post(`"${'é'.repeat(LIMIT / 2)}"`)).toEqual(tooLarge);
  });

  it('refuses a declared length over the limit before the body arrives', async () => {
    await serve();
    const { port } = new URL(url);
    // Declares 10 MB and sends nothing: only the declaration can have refused it.
    const req = request({ host: '127.0.0.1', port, method: 'POST', headers: { 'content-length': String(10 * 1024 * 1024) } });
    req.on('error', () => undefined);
    req.flushHeaders();
    try {
      await pollUntil(() => (outcomes.length > 0 ? true : undefined), { timeoutMs: 5_000, intervalMs: 20, description: 'an outcome' });
      expect(outcomes).toEqual([{ code: 'TOO_LARGE', message: `body exceeds ${LIMIT} bytes` }]);
    } finally {
      req.destroy();
    }
  });

  it('rejects with MALFORMED when the client goes away mid-body', async () => {
    await serve();
    const { port } = new URL(url);
    const req = request({ host: '127.0.0.1', port, method: 'POST', headers: { 'content-length': '40' } });
    req.on('error', () => undefined);
    req.write('{"a":');
    await pollUntil(() => (received > 0 ? true : undefined), { timeoutMs: 5_000, intervalMs: 20, description: 'the server to begin the request' });
    req.destroy();
    await pollUntil(() => (outcomes.length > 0 ? true : undefined), { timeoutMs: 5_000, intervalMs: 20, description: 'an outcome' });
    expect(outcomes).toEqual([{ code: 'MALFORMED', message: 'request body could not be read' }]);
  });

  it('takes the body an earlier parser left in req.body, and refuses a consumed stream without one', async () => {
    await serve(async (req) => {
      const body = await readJsonBody(req, 1024);
      if (req.headers['x-set-body'] === '1') Object.assign(req, { body });
    });
    expect(await post('{"parsed":true}', { 'x-set-body': '1' })).toEqual({ value: { parsed: true } });
    expect(await post('{"parsed":true}')).toEqual({ code: 'MALFORMED', message: 'request body was already read by another handler' });
    // The declared length still counts against the limit.
    expect(await post(`"${'x'.repeat(LIMIT)}"`, { 'x-set-body': '1' })).toEqual({ code: 'TOO_LARGE', message: `body exceeds ${LIMIT} bytes` });
  });
});
