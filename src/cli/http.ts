import { createHttpTransport } from '../core/http-transport.js';
import { TransportError } from '../core/transport.js';
import { isShazbotError } from '../errors.js';
import { endpointUrl, normalizeBaseUrl } from '../membership/url.js';
import { CliError, EXIT } from './errors.js';
import { sanitizeText } from './sanitize.js';

/** Largest answer body the CLI reads: 16 MiB. */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** Default `--timeout`, in ms. */
export const DEFAULT_TIMEOUT_MS = 5_000;

/** The routes the CLI calls under `<base>clustershazbot/`. */
export type CliRoute = 'list' | 'control' | 'info';

/** A server's answer: its status and its body parsed as JSON (`undefined` if it was not JSON). */
export interface JsonAnswer {
  readonly status: number;
  readonly body: unknown;
}

const transport = createHttpTransport();

/**
 * A server's base URL as typed by the operator, normalised (trailing slash
 * added). Anything but an absolute http(s) URL is a usage error.
 */
export function parseBaseUrl(raw: string): string {
  try {
    return normalizeBaseUrl(raw);
  } catch (e) {
    const why = isShazbotError(e) ? e.message : 'is not a valid URL';
    throw new CliError(EXIT.usage, `invalid server URL "${sanitizeText(raw)}": ${why}`);
  }
}

/** The URL of one of a server's routes. */
export function routeUrl(base: string, route: CliRoute): string {
  // endpointUrl knows the protocol's routes; `info` is an operator route under the same prefix.
  return route === 'info' ? `${base}clustershazbot/info` : endpointUrl(base, route);
}

/**
 * One request to a clustershazbot route. Reads at most {@link MAX_ANSWER_BYTES}.
 * Rejects with a CliError: exit 3 if the server cannot be reached in
 * `timeoutMs`, exit 1 if its answer is too large. Any HTTP status resolves.
 * @param bearer the control secret, sent as `Authorization: Bearer …`.
 */
export async function requestJson(
  url: string,
  options: { method?: 'GET' | 'POST'; bearer?: string; body?: unknown; timeoutMs: number },
): Promise<JsonAnswer> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.bearer !== undefined) headers.authorization = `Bearer ${options.bearer}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  try {
    const answer = await transport.request({
      method: options.method ?? 'GET',
      url,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      timeoutMs: options.timeoutMs,
      maxResponseBytes: MAX_ANSWER_BYTES,
    });
    return { status: answer.status, body: parseJson(answer.body) };
  } catch (e) {
    if (!(e instanceof TransportError)) throw e;
    if (e.kind === 'too-large') throw new CliError(EXIT.failed, `${url} answered more than ${MAX_ANSWER_BYTES} bytes`);
    const why = e.kind === 'timeout' ? `no answer within ${options.timeoutMs} ms` : sanitizeText(e.message);
    throw new CliError(EXIT.unreachable, `cannot reach ${url}: ${why}`);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The CliError (exit 1) for an answer that is not a success; 401 means the control secret is wrong. */
export function answerError(url: string, answer: JsonAnswer): CliError {
  if (answer.status === 401) return new CliError(EXIT.failed, 'unauthorized: wrong control secret');
  const body = answer.body as { error?: unknown } | undefined;
  const detail = typeof body?.error === 'string' ? `: ${sanitizeText(body.error).slice(0, 200)}` : '';
  return new CliError(EXIT.failed, `${url} answered HTTP ${answer.status}${detail}`);
}
