import { readFile, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { TransportError, type Transport, type TransportRequest, type TransportResponse } from './transport.js';

/**
 * The production Transport: global `fetch` for `http:`/`https:`, and the
 * file system for `file:` URLs (a master list kept on a shared volume).
 * `file:` supports GET and PUT only; PUT writes a temporary file and renames
 * it, so readers never see half a list.
 */
export function createHttpTransport(): Transport {
  return {
    async request(req) {
      const url = parseUrl(req.url);
      if (url.protocol === 'file:') return fileRequest(url, req);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new TransportError('unsupported', `unsupported URL scheme ${url.protocol}`);
      }
      return httpRequest(req);
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

async function httpRequest(req: TransportRequest): Promise<TransportResponse> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.max(1, req.timeoutMs));
  try {
    const res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: controller.signal,
      redirect: 'error',
    });
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value;
    });
    const declared = Number(headers['content-length']);
    if (Number.isFinite(declared) && declared > req.maxResponseBytes) {
      controller.abort();
      throw new TransportError('too-large', `response of ${declared} bytes exceeds ${req.maxResponseBytes}`);
    }
    const body = await readLimited(res, req.maxResponseBytes, controller);
    return { status: res.status, headers, body };
  } catch (e) {
    if (e instanceof TransportError) throw e;
    if (controller.signal.aborted) throw new TransportError('timeout', `no answer within ${req.timeoutMs} ms`, { cause: e });
    throw new TransportError('network', describe(e), { cause: e });
  } finally {
    clearTimeout(timer);
  }
}

async function readLimited(res: Response, limit: number, controller: AbortController): Promise<string> {
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      controller.abort();
      await reader.cancel().catch(() => undefined);
      throw new TransportError('too-large', `response exceeds ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
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
