/**
 * The size of a message as it would travel over HTTP/1.1, so the simulator
 * can report bandwidth in bytes a real deployment would see.
 *
 * Counted: the start line, a `Host` header (requests), every header the
 * caller gives, `Content-Length` when there is a body, the blank line, and
 * the body in UTF-8. Not counted: headers a real client or server adds on
 * its own (`Date`, `Connection`, `Keep-Alive`, `User-Agent`, `Accept-*`,
 * Express's `X-Powered-By` and `ETag`...), which typically add 100–200 bytes
 * per message, and TCP/IP or TLS framing. Compare runs with each other, and
 * add that overhead per message when comparing with a packet capture.
 */
import { STATUS_CODES } from 'node:http';

/** Bytes of `Name: value\r\n` for each header, plus `Content-Length` and the blank line. */
function headerBytes(headers: Readonly<Record<string, string>> | undefined, bodyBytes: number | undefined): number {
  let n = 2; // the blank line ending the head
  if (headers !== undefined) {
    for (const name in headers) {
      n += Buffer.byteLength(name) + 2 + Buffer.byteLength(headers[name]!) + 2;
    }
  }
  // `Content-Length: <n>\r\n` = 16 + digits + 2.
  if (bodyBytes !== undefined) n += 18 + String(bodyBytes).length;
  return n;
}

/** Splits an absolute URL into its host (with port, if any) and its request target (path and query). */
function splitUrl(url: string): { host: string; target: string } {
  const scheme = url.indexOf('://');
  if (scheme < 0) return { host: '', target: url };
  const start = scheme + 3;
  let end = url.length;
  for (let i = start; i < url.length; i++) {
    const c = url.charCodeAt(i);
    // '/', '?' or '#' ends the authority.
    if (c === 47 || c === 63 || c === 35) {
      end = i;
      break;
    }
  }
  const hash = url.indexOf('#', end);
  const target = url.slice(end, hash < 0 ? url.length : hash);
  return { host: url.slice(start, end), target: target === '' || target.startsWith('?') ? `/${target}` : target };
}

/**
 * Bytes of an HTTP/1.1 request: `METHOD /path HTTP/1.1\r\n`, `Host: host\r\n`,
 * each of `headers` as `Name: value\r\n`, `Content-Length: n\r\n` when `body`
 * is defined (even empty), `\r\n`, then the body in UTF-8.
 * @param url absolute URL; the request target is its path and query, the fragment is never sent.
 */
export function requestBytes(
  method: string,
  url: string,
  headers: Readonly<Record<string, string>> | undefined,
  body: string | undefined,
): number {
  const { host, target } = splitUrl(url);
  const bodyBytes = body === undefined ? undefined : Buffer.byteLength(body);
  // `METHOD SP target SP HTTP/1.1 CRLF` and `Host: host CRLF`.
  const startLine = method.length + 1 + Buffer.byteLength(target) + 11;
  const hostLine = 6 + Buffer.byteLength(host) + 2;
  return startLine + hostLine + headerBytes(headers, bodyBytes) + (bodyBytes ?? 0);
}

/**
 * Bytes of an HTTP/1.1 response: `HTTP/1.1 <status> <reason>\r\n` (reason
 * phrases as Node sends them), each of `headers`, `Content-Length` (always:
 * even an empty body is declared), `\r\n`, then the body in UTF-8.
 */
export function responseBytes(status: number, headers: Readonly<Record<string, string>> | undefined, body: string): number {
  const bodyBytes = Buffer.byteLength(body);
  const reason = STATUS_CODES[status] ?? '';
  // `HTTP/1.1 SP 3DIGIT SP reason CRLF`.
  const statusLine = 9 + String(status).length + 1 + reason.length + 2;
  return statusLine + headerBytes(headers, bodyBytes) + bodyBytes;
}
