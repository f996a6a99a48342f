// Serf's RPC protocol (msgpack over TCP), as much as the benchmark needs:
// a persistent connection per agent, the handshake, and `members`. Also a
// stand-in agent that answers both, for the accounting self-check.
// Protocol: Serf's documentation, "RPC Protocol": each request is a msgpack
// header { Command, Seq } (plus a body for some commands), each answer a
// header { Seq, Error } (plus a body for some commands).
import { connect, createServer } from 'node:net';

/** Thrown by {@link decode} when the buffer ends before the value does. */
class Incomplete extends Error {}

/**
 * Decodes one msgpack value from `buf` at `offset`; throws
 * {@link Incomplete} if the buffer holds only part of it. Strings come back
 * as strings, bin as Buffers, ext as `{ type, data }`.
 * @returns {{ value: unknown, offset: number }}
 */
export function decode(buf, offset = 0) {
  const need = (n) => {
    if (offset + n > buf.length) throw new Incomplete();
  };
  const bytes = (n) => {
    need(n);
    const out = buf.subarray(offset, offset + n);
    offset += n;
    return out;
  };
  const uint = (n) => {
    need(n);
    const v = n === 1 ? buf.readUInt8(offset) : n === 2 ? buf.readUInt16BE(offset) : n === 4 ? buf.readUInt32BE(offset) : Number(buf.readBigUInt64BE(offset));
    offset += n;
    return v;
  };
  const int = (n) => {
    need(n);
    const v = n === 1 ? buf.readInt8(offset) : n === 2 ? buf.readInt16BE(offset) : n === 4 ? buf.readInt32BE(offset) : Number(buf.readBigInt64BE(offset));
    offset += n;
    return v;
  };
  const str = (n) => bytes(n).toString('utf8');
  const array = (n) => Array.from({ length: n }, () => value());
  const map = (n) => {
    const out = {};
    for (let i = 0; i < n; i++) {
      const key = value();
      out[String(key)] = value();
    }
    return out;
  };
  const ext = (n) => ({ type: int(1), data: Buffer.from(bytes(n)) });
  function value() {
    const b = uint(1);
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b <= 0x8f) return map(b & 0x0f);
    if (b <= 0x9f) return array(b & 0x0f);
    if (b <= 0xbf) return str(b & 0x1f);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: case 0xc5: case 0xc6: return Buffer.from(bytes(uint(1 << (b - 0xc4))));
      case 0xc7: case 0xc8: case 0xc9: return ext(uint(1 << (b - 0xc7)));
      case 0xca: { const v = (need(4), buf.readFloatBE(offset)); offset += 4; return v; }
      case 0xcb: { const v = (need(8), buf.readDoubleBE(offset)); offset += 8; return v; }
      case 0xcc: case 0xcd: case 0xce: case 0xcf: return uint(1 << (b - 0xcc));
      case 0xd0: case 0xd1: case 0xd2: case 0xd3: return int(1 << (b - 0xd0));
      case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return ext(1 << (b - 0xd4));
      case 0xd9: case 0xda: case 0xdb: return str(uint(1 << (b - 0xd9)));
      case 0xdc: case 0xdd: return array(uint(b === 0xdc ? 2 : 4));
      case 0xde: case 0xdf: return map(uint(b === 0xde ? 2 : 4));
      default: throw new Error(`msgpack: unknown type byte 0x${b.toString(16)}`);
    }
  }
  return { value: value(), offset };
}

/** Encodes null, booleans, integers, strings, Buffers, arrays and plain objects as msgpack. */
export function encode(value) {
  const parts = [];
  const head = (...b) => parts.push(Buffer.from(b));
  const sized = (len, small, codes) => {
    if (small !== undefined && len < small.limit) return head(small.base | len);
    const [c8, c16, c32] = codes;
    if (c8 !== undefined && len < 0x100) return head(c8, len);
    if (len < 0x10000) return head(c16, len >> 8, len & 0xff);
    const b = Buffer.alloc(5);
    b[0] = c32;
    b.writeUInt32BE(len, 1);
    parts.push(b);
  };
  const walk = (v) => {
    if (v === null || v === undefined) return head(0xc0);
    if (typeof v === 'boolean') return head(v ? 0xc3 : 0xc2);
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) throw new Error(`msgpack: cannot encode ${v}`);
      if (v >= 0 && v <= 0x7f) return head(v);
      if (v < 0 && v >= -32) return head(v & 0xff);
      const b = Buffer.alloc(5);
      if (v >= 0) {
        b[0] = 0xce;
        b.writeUInt32BE(v, 1);
      } else {
        b[0] = 0xd2;
        b.writeInt32BE(v, 1);
      }
      return parts.push(b);
    }
    if (typeof v === 'string') {
      const bytes = Buffer.from(v, 'utf8');
      sized(bytes.length, { limit: 32, base: 0xa0 }, [0xd9, 0xda, 0xdb]);
      return parts.push(bytes);
    }
    if (Buffer.isBuffer(v)) {
      sized(v.length, undefined, [0xc4, 0xc5, 0xc6]);
      return parts.push(v);
    }
    if (Array.isArray(v)) {
      sized(v.length, { limit: 16, base: 0x90 }, [undefined, 0xdc, 0xdd]);
      return v.forEach(walk);
    }
    const entries = Object.entries(v);
    sized(entries.length, { limit: 16, base: 0x80 }, [undefined, 0xde, 0xdf]);
    for (const [k, item] of entries) {
      walk(k);
      walk(item);
    }
  };
  walk(value);
  return Buffer.concat(parts);
}

/** One connection to a Serf agent's RPC port, handshake done. Requests are answered in order. */
export class SerfRpc {
  #socket;
  #buffer = Buffer.alloc(0);
  /** Requests sent and not answered yet, oldest first: `{ seq, body, resolve, reject, timer }`. */
  #pending = [];
  #seq = 0;
  /** Why the connection is unusable, once it is. */
  closed;

  /** Connects to `host:port` and performs the handshake; rejects on refusal or after `timeoutMs`. */
  static async open(host, port, timeoutMs) {
    const rpc = new SerfRpc();
    await new Promise((resolve, reject) => {
      const socket = connect({ host, port, timeout: timeoutMs });
      socket.setNoDelay(true);
      socket.once('connect', () => {
        socket.setTimeout(0);
        resolve();
      });
      socket.once('timeout', () => socket.destroy(new Error(`connect timeout after ${timeoutMs} ms`)));
      socket.once('error', reject);
      rpc.#socket = socket;
    });
    rpc.#socket.on('data', (chunk) => rpc.#receive(chunk));
    rpc.#socket.on('error', (e) => rpc.#fail(e.message));
    rpc.#socket.on('close', () => rpc.#fail('connection closed'));
    try {
      await rpc.#request('handshake', { Version: 1 }, false, timeoutMs);
    } catch (e) {
      rpc.close();
      throw e;
    }
    return rpc;
  }

  /** The agent's member list: `[{ Name, Status, Addr, Port, ... }]`. */
  async members(timeoutMs) {
    const body = await this.#request('members', undefined, true, timeoutMs);
    return body.Members ?? [];
  }

  /** Closes the connection; pending requests reject. */
  close() {
    this.#fail('closed by the harness');
  }

  #request(command, body, expectsBody, timeoutMs) {
    if (this.closed !== undefined) return Promise.reject(new Error(`serf rpc: ${this.closed}`));
    const seq = this.#seq++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.#fail(`${command} not answered within ${timeoutMs} ms`), timeoutMs);
      this.#pending.push({ seq, body: expectsBody, resolve, reject, timer });
      const header = encode({ Command: command, Seq: seq });
      this.#socket.write(body === undefined ? header : Buffer.concat([header, encode(body)]));
    });
  }

  #receive(chunk) {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    while (this.#pending.length > 0) {
      const request = this.#pending[0];
      let header;
      let body;
      let offset;
      try {
        ({ value: header, offset } = decode(this.#buffer));
        if (request.body && !header.Error) ({ value: body, offset } = decode(this.#buffer, offset));
      } catch (e) {
        if (e instanceof Incomplete) return;
        return this.#fail(`undecodable answer: ${e.message}`);
      }
      this.#buffer = this.#buffer.subarray(offset);
      if (header.Seq !== request.seq) return this.#fail(`answer for seq ${header.Seq}, expected ${request.seq}`);
      this.#pending.shift();
      clearTimeout(request.timer);
      // An error answer may or may not carry a body: the stream can no longer be trusted.
      if (header.Error) {
        request.reject(new Error(`serf rpc: ${header.Error}`));
        return this.#fail(`error answer: ${header.Error}`);
      }
      request.resolve(body);
    }
  }

  #fail(reason) {
    this.closed ??= reason;
    for (const request of this.#pending.splice(0)) {
      clearTimeout(request.timer);
      request.reject(new Error(`serf rpc: ${reason}`));
    }
    this.#socket?.destroy();
  }
}

/**
 * A stand-in agent on `host` (any free port) that answers the handshake and
 * `members` (an empty list), for checking where the harness's RPC traffic
 * is counted. Resolves to `{ port, close() }`.
 */
export async function startFakeAgent(host) {
  const sockets = new Set();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let buffer = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        let header;
        let offset;
        try {
          ({ value: header, offset } = decode(buffer));
          if (header.Command === 'handshake') ({ offset } = decode(buffer, offset));
        } catch {
          return;
        }
        buffer = buffer.subarray(offset);
        const reply = encode({ Seq: header.Seq, Error: '' });
        socket.write(header.Command === 'members' ? Buffer.concat([reply, encode({ Members: [] })]) : reply);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, host, resolve));
  return {
    port: server.address().port,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    }),
  };
}
