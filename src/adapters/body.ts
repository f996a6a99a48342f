import type { IncomingMessage } from 'node:http';
import { MalformedError, TooLargeError } from '../errors.js';

/** A parsed body and, when it was read from the stream, the exact text it was parsed from. */
export interface BodyAndText {
  readonly value: unknown;
  /** Undefined when an earlier parser had consumed the stream, or the body was empty. */
  readonly text: string | undefined;
}

/**
 * Reads and parses a JSON request body of at most `limit` bytes from a
 * node:http request. Rejects with TooLargeError (413) as soon as the
 * declared or received size passes the limit, without buffering the rest,
 * and with MalformedError (400) if the body is not JSON. An empty body
 * parses as `{}`, as `express.json()` leaves it.
 *
 * If an earlier body parser (`express.json()`, Nest's, any connect-style
 * one) already consumed the stream, it resolves that parser's `req.body`
 * instead; then only the declared `content-length` is held to `limit`.
 * Resolves the value and the text it was parsed from (for signature checks
 * over the received bytes).
 */
export function readJsonBodyAndText(req: IncomingMessage, limit: number): Promise<BodyAndText> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(new TooLargeError(`body exceeds ${limit} bytes`));
      return;
    }
    if (req.readableEnded) {
      // Listening now would wait forever for an 'end' that has already passed.
      const parsed = (req as IncomingMessage & { body?: unknown }).body;
      if (parsed === undefined) reject(new MalformedError('request body was already read by another handler'));
      else resolve({ value: parsed, text: undefined });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(new TooLargeError(`body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', (e) => {
      if (!failed) reject(new MalformedError('request body could not be read', { cause: e }));
      failed = true;
    });
    req.on('end', () => {
      if (failed) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') {
        resolve({ value: {}, text: undefined });
        return;
      }
      try {
        resolve({ value: JSON.parse(text), text });
      } catch (e) {
        reject(new MalformedError('body is not valid JSON', { cause: e }));
      }
    });
  });
}
