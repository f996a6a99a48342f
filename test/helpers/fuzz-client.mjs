/**
 * Sends fuzzed requests to the target over keep-alive connections, many in
 * flight at once, and raw bytes over fresh sockets. Never throws: a failed
 * exchange resolves to `{ error }` (a reset, a hang past the timeout).
 */
import http from 'node:http';
import net from 'node:net';

/** Most response bytes kept (the dashboard page and the info view fit). */
const MAX_RESPONSE_BYTES = 1 << 20;

/**
 * @param {string} baseUrl the target's base URL
 * @param {{ concurrency: number, timeoutMs: number }} options requests in flight; ms a request may stay silent
 */
export function createClient(baseUrl, { concurrency, timeoutMs }) {
  const { hostname, port } = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

  /** One request: `{ method, path, headers, body?: Buffer, chunks?: Buffer[] }`. */
  function send(spec) {
    return new Promise((resolve) => {
      const headers = { ...spec.headers };
      if (spec.body !== undefined) headers['content-length'] = String(spec.body.length);
      if (spec.chunks !== undefined) headers['transfer-encoding'] = 'chunked';
      let req;
      try {
        req = http.request({ host: hostname, port, method: spec.method, path: spec.path, headers, agent });
      } catch (e) {
        // node:http refused to send it (a generator bug, not a server fault).
        resolve({ error: `unsendable: ${e.code ?? e.message}`, unsendable: true });
        return;
      }
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (e) => resolve({ error: e.code ?? e.message }));
      req.on('response', (res) => {
        const parts = [];
        let size = 0;
        res.on('data', (d) => {
          size += d.length;
          if (size <= MAX_RESPONSE_BYTES) parts.push(d);
        });
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts) }));
        res.on('error', (e) => resolve({ error: e.code ?? e.message }));
      });
      if (spec.chunks !== undefined) for (const c of spec.chunks) req.write(c);
      req.end(spec.body);
    });
  }

  /** Sends every spec, `concurrency` at a time; calls `onResult(spec, result)` as each one ends. */
  async function sendAll(specs, onResult) {
    let next = 0;
    const worker = async () => {
      while (next < specs.length) {
        const spec = specs[next++];
        onResult(spec, await send(spec));
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, specs.length) }, worker));
  }

  /** Writes raw bytes on a fresh connection; resolves to the status of every response read before the server closed it. */
  function raw(bytes) {
    return new Promise((resolve) => {
      const socket = net.connect({ host: hostname, port });
      const parts = [];
      const done = (error) => {
        socket.destroy();
        const text = Buffer.concat(parts).toString('latin1');
        const statuses = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
        resolve(error === undefined || statuses.length > 0 ? { statuses } : { error });
      };
      socket.setTimeout(timeoutMs, () => done('no answer and no close'));
      socket.on('data', (d) => parts.push(d));
      socket.on('error', (e) => done(e.code ?? e.message));
      socket.on('close', () => done());
      socket.write(bytes);
    });
  }

  return { send, sendAll, raw, close: () => agent.destroy() };
}
