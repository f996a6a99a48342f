/**
 * The store's HTTP side: reading a bounded request body, and writing a
 * reply (JSON, or an error in the `{ error, code }` shape).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A response decided by a handler. */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Close the connection after answering (request body left unread). */
  close?: boolean;
}

/**
 * Reads a request body up to `limit` bytes. Past the limit it stops reading
 * (the caller answers 413 and closes the connection) instead of buffering
 * the rest. Rejects if the client aborts.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolveBody, rejectBody) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > limit) {
        cleanup();
        req.pause();
        chunks.length = 0;
        resolveBody('too-large');
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolveBody(Buffer.concat(chunks, total));
    };
    const onError = (e: Error): void => {
      cleanup();
      rejectBody(e);
    };
    const onClose = (): void => {
      cleanup();
      rejectBody(new Error('request closed before its body was complete'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** A JSON reply, never cached. */
export function json(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { ...headers, 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: Buffer.from(JSON.stringify(value), 'utf8'),
  };
}

/** An error reply: `{ error, code }`. */
export function errorReply(status: number, code: string, message: string, headers?: Record<string, string>): Reply {
  return json(status, { error: message, code }, headers);
}

/** Writes a reply unless the response is already gone (client aborted, or answered). */
export function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent || res.writableEnded || res.destroyed) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  const headers: Record<string, string> = { ...reply.headers };
  if (reply.body !== undefined) headers['content-length'] = String(reply.body.length);
  // `connection: close` makes node destroy the socket once the answer is
  // flushed, so an unread (unauthorised or oversized) body is never consumed.
  if (reply.close) headers.connection = 'close';
  res.writeHead(reply.status, headers);
  res.end(reply.body);
}
