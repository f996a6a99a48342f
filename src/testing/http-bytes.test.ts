import { describe, it, expect } from 'vitest';
import { requestBytes, responseBytes } from './http-bytes.js';

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

describe('requestBytes', () => {
  it('counts a POST with headers and a body as the exact HTTP/1.1 text', () => {
    const body = '{"message":"gossip","online":[]}';
    const wire =
      'POST /clustershazbot/gossip HTTP/1.1\r\n' +
      'Host: n1.sim:3000\r\n' +
      'content-type: application/json\r\n' +
      'authorization: SHAZBOT-HMAC-SHA256 t=1,n=abc,s=def\r\n' +
      `Content-Length: ${body.length}\r\n` +
      '\r\n' +
      body;
    expect(
      requestBytes('POST', 'http://n1.sim:3000/clustershazbot/gossip', {
        'content-type': 'application/json',
        authorization: 'SHAZBOT-HMAC-SHA256 t=1,n=abc,s=def',
      }, body),
    ).toBe(bytes(wire));
  });

  it('sends no Content-Length without a body, and keeps the query but not the fragment', () => {
    const wire = 'GET /list.json?v=2 HTTP/1.1\r\nHost: store.example\r\naccept: application/json\r\n\r\n';
    expect(requestBytes('GET', 'https://store.example/list.json?v=2#top', { accept: 'application/json' }, undefined)).toBe(bytes(wire));
  });

  it('uses / as the target of a URL without a path, and declares an empty body', () => {
    expect(requestBytes('PUT', 'http://h', undefined, '')).toBe(bytes('PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n'));
  });

  it('counts multi-byte UTF-8 characters as several bytes', () => {
    const body = '{"name":"zürich ☃"}';
    const wire = `POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: ${bytes(body)}\r\n\r\n${body}`;
    expect(bytes(body)).toBeGreaterThan(body.length);
    expect(requestBytes('POST', 'http://h/x', {}, body)).toBe(bytes(wire));
  });
});

describe('responseBytes', () => {
  it('counts status line with Node reason phrase, headers, Content-Length and body', () => {
    const body = '{"success":true}';
    const wire = `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 16\r\n\r\n${body}`;
    expect(responseBytes(200, { 'content-type': 'application/json' }, body)).toBe(bytes(wire));
  });

  it('declares an empty body and uses multi-word reason phrases', () => {
    expect(responseBytes(404, {}, '')).toBe(bytes('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'));
    expect(responseBytes(412, undefined, '')).toBe(bytes('HTTP/1.1 412 Precondition Failed\r\nContent-Length: 0\r\n\r\n'));
    expect(responseBytes(503, { etag: '"7"' }, 'x')).toBe(
      bytes('HTTP/1.1 503 Service Unavailable\r\netag: "7"\r\nContent-Length: 1\r\n\r\nx'),
    );
  });
});
