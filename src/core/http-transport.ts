import { readFile, rename, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as httpsModule from 'node:https';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { TransportError, type Transport, type TransportRequest, type TransportResponse } from './transport.js';

/**
 * The production Transport: node:http(s) with keep-alive for `http:`/`https:`, and the
 * file system for `file:` URLs (a master list kept on a shared volume).
 * `file:` supports GET and PUT only; PUT writes a temporary file and renames
 * it, so readers never see half a list.
 */
export function createHttpTransport(): Transport {
  let agents: Agents | undefined;
  return {
    async request(req) {
      const url = parseUrl(req.url);
      if (url.protocol === 'file:') return fileRequest(url, req);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new TransportError('unsupported', `unsupported URL scheme ${url.protocol}`);
      }
      agents ??= { http: keepAliveAgent(http.Agent), https: keepAliveAgent(httpsModule.Agent) };
      return httpRequest(req, url, agents);
    },
  };
}

function parseUrl(raw: string): URL {
  try {
    return new URL(raw);
  } catch (cause) {
    throw new TransportError('unsupported', 'invalid URL', { cause });
  }
}

/**
 * How long an idle connection is kept for reuse, ms. Long enough to carry
 * the next probe of the same peer (the probe ring keeps a target for several
 * periods of 2.5 s), shorter than Node's and most servers' 5 s keep-alive
 * timeout, so that a request never races the server closing the connection.
 */
const IDLE_SOCKET_MS = 4_000;

/**
 * A keep-alive agent whose idle connections close after {@link IDLE_SOCKET_MS},
 * and whose busy ones never time out by themselves (each request has its own
 * deadline).
 */
function keepAliveAgent<A extends http.Agent>(Base: new (o: http.AgentOptions) => A): A {
  // keepAliveMsecs is the TCP keep-alive delay Node sets on kept sockets: at
  // its default of 1 s, each idle connection would exchange a keep-alive
  // probe and its ACK every second until closed (about 100 bytes a second).
  const agent = new Base({ keepAlive: true, keepAliveMsecs: 60_000, scheduling: 'lifo' });
  // Node's own keepSocketAlive returns whether the socket is kept (typed void).
  const keep = agent.keepSocketAlive.bind(agent) as unknown as (socket: Socket) => boolean;
  (agent as unknown as { keepSocketAlive(socket: Socket): boolean }).keepSocketAlive = (socket) => {
    const kept = keep(socket);
    if (kept) socket.setTimeout(IDLE_SOCKET_MS);
    return kept;
  };
  const reuse = agent.reuseSocket.bind(agent) as unknown as (socket: Socket, req: http.ClientRequest) => void;
  (agent as unknown as { reuseSocket(socket: Socket, req: http.ClientRequest): void }).reuseSocket = (socket, req) => {
    socket.setTimeout(0);
    reuse(socket, req);
  };
  return agent;
}

/**
 * One HTTP(S) request through node:http, not fetch: it sends only the
 * headers given plus Host, Content-Length and Connection (fetch adds five
 * more: a probe request was 423 bytes on the wire with fetch, 318 without), costs less CPU, and keeps
 * connections for reuse as {@link keepAliveAgent} says.
 */
function httpRequest(req: TransportRequest, url: URL, agents: Agents): Promise<TransportResponse> {
  return new Promise<TransportResponse>((resolve, reject) => {
    const https = url.protocol === 'https:';
    const headers: Record<string, string | number> = { ...req.headers };
    if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body);
    let settled = false;
    const fail = (e: TransportError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      reject(e);
    };
    const request = (https ? httpsModule : http).request(url, { method: req.method, headers, agent: https ? agents.https : agents.http }, (res) => {
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > req.maxResponseBytes) {
        fail(new TransportError('too-large', `response of ${declared} bytes exceeds ${req.maxResponseBytes}`));
        return;
      }
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (chunk: Buffer) => {
        total += chunk.byteLength;
        if (total > req.maxResponseBytes) fail(new TransportError('too-large', `response exceeds ${req.maxResponseBytes} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const out: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
        }
        resolve({ status: res.statusCode ?? 0, headers: out, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (e) => fail(new TransportError('network', describe(e), { cause: e })));
      res.on('aborted', () => fail(new TransportError('network', 'response aborted')));
    });
    const timer = setTimeout(() => fail(new TransportError('timeout', `no answer within ${req.timeoutMs} ms`)), Math.max(1, req.timeoutMs));
    request.on('error', (e) => fail(new TransportError('network', describe(e), { cause: e })));
    request.end(req.body);
  });
}

interface Agents {
  readonly http: http.Agent;
  readonly https: httpsModule.Agent;
}

async function fileRequest(url: URL, req: TransportRequest): Promise<TransportResponse> {
  const path = fileURLToPath(url);
  try {
    if (req.method === 'GET') {
      const data = await readFile(path);
      if (data.byteLength > req.maxResponseBytes) {
        throw new TransportError('too-large', `file exceeds ${req.maxResponseBytes} bytes`);
      }
      return { status: 200, headers: { 'content-type': 'application/json' }, body: data.toString('utf8') };
    }
    if (req.method === 'PUT') {
      const tmp = `${path}.${process.pid}.${Math.floor(performance.now() * 1000)}.tmp`;
      await writeFile(tmp, req.body ?? '');
      await rename(tmp, path);
      return { status: 204, headers: {}, body: '' };
    }
    throw new TransportError('unsupported', `${req.method} is not supported for file: URLs`);
  } catch (e) {
    if (e instanceof TransportError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (req.method === 'GET' && code === 'ENOENT') return { status: 404, headers: {}, body: '' };
    throw new TransportError('network', describe(e), { cause: e });
  }
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    return `${e.message}${detail}`;
  }
  return String(e);
}
