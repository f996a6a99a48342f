/**
 * A server's handlers as HTTP, the way the README's Express example serves
 * them: what a simulated host answers.
 */
import type { TransportResponse } from '../core/transport.js';
import { isShazbotError, MalformedError } from '../errors.js';
import type { RawHandler } from './sim-host.js';

/** The three request handlers of a server, as a Cluster exposes them. */
export interface SimHandler {
  handleGossip(authorization: string, body: unknown): Promise<unknown>;
  /** If present, used instead of handleGossip with the request's text, and its reply text is sent as is (a Cluster has it). */
  handleGossipWire?(authorization: string, body: unknown, raw?: string): Promise<{ text: string }>;
  handleList(authorization: string): Promise<unknown>;
  handleControl(authorization: string, body: unknown): Promise<void>;
}

const JSON_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json' };

function json(status: number, body: unknown): TransportResponse {
  return { status, headers: JSON_HEADERS, body: JSON.stringify(body) };
}

/** The reply to a handler's error: its status (500 for anything not a ShazbotError) and message. */
export function errorResponse(e: unknown): TransportResponse {
  return json(isShazbotError(e) ? e.status : 500, { error: e instanceof Error ? e.message : String(e) });
}

/**
 * Adapts a server's handlers to HTTP as the README's Express example does:
 * the handler sees the parsed JSON body, the reply is the JSON of its
 * result, and errors answer with their status (500 for anything else).
 */
export function clusterHandler(h: SimHandler): RawHandler {
  return async (req, path) => {
    const auth = req.headers?.['authorization'] ?? '';
    try {
      if (path === 'clustershazbot/gossip' && req.method === 'POST') {
        if (h.handleGossipWire === undefined) return json(200, await h.handleGossip(auth, parseBody(req.body)));
        return { status: 200, headers: JSON_HEADERS, body: (await h.handleGossipWire(auth, parseBody(req.body), req.body)).text };
      }
      if (path === 'clustershazbot/list' && req.method === 'GET') return json(200, await h.handleList(auth));
      if (path === 'clustershazbot/control' && req.method === 'POST') {
        await h.handleControl(auth, parseBody(req.body));
        return json(200, { success: true });
      }
      return json(404, { error: 'not found' });
    } catch (e) {
      return errorResponse(e);
    }
  };
}

/** express.json(): a body that is not JSON answers 400 before the handler runs. */
function parseBody(body: string | undefined): unknown {
  if (body === undefined || body === '') return {};
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new MalformedError('request body is not valid JSON');
  }
}
