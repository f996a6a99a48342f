// The benchmark's network: a fresh network namespace (`unshare -n`) with only
// `lo` up, nftables counters on its output hook, and free ports.
//
// Addresses: nodes talk to each other over 127.0.0.1 only; the harness talks
// to nodes only through 127.0.0.2. The counted traffic is every IP packet
// from 127.0.0.1 to 127.0.0.1, at the output hook (each loopback packet goes
// through it once), with its IP header: node-to-node traffic and nothing else.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';

/** Address nodes use among themselves. */
export const NODE_HOST = '127.0.0.1';
/** Address the harness reaches nodes on. */
export const HARNESS_HOST = '127.0.0.2';

const TABLE = 'clustershazbot_bench';
const CHAIN = 'out';
/** Counter rules, by the comment that names them in `nft -j` output. */
const RULES = {
  nodes: `ip saddr ${NODE_HOST} ip daddr ${NODE_HOST}`,
  toHarnessHost: `ip daddr ${HARNESS_HOST}`,
  fromHarnessHost: `ip saddr ${HARNESS_HOST}`,
  ipv6: 'meta nfproto ipv6',
};

/** Runs a command (with `input` on its stdin, if given), resolving to its stdout, failing with its stderr. */
async function run(file, args, input) {
  const child = spawn(file, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], timeout: 30_000 });
  const done = new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${file} ${args.join(' ')}: exit ${code}: ${stderr.trim()}`))));
  });
  if (input !== undefined) {
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  }
  return await done;
}

/**
 * Brings `lo` up in this (new) namespace and checks that it is the only
 * interface up and that no route leads anywhere else. Throws otherwise.
 * @param {string} ip path of the `ip` binary
 */
export async function setUpLoopback(ip) {
  await run(ip, ['link', 'set', 'lo', 'up']);
  const links = JSON.parse(await run(ip, ['-j', 'link', 'show']));
  const up = links.filter((l) => l.ifname !== 'lo' && (l.flags ?? []).includes('UP'));
  if (up.length > 0) throw new Error(`not an isolated namespace: ${up.map((l) => l.ifname).join(', ')} up besides lo`);
  for (const family of ['-4', '-6']) {
    const routes = JSON.parse((await run(ip, ['-j', family, 'route', 'show', 'table', 'all'])) || '[]');
    const outside = routes.filter((r) => r.dev !== undefined && r.dev !== 'lo');
    if (outside.length > 0) throw new Error(`not an isolated namespace: routes via ${outside.map((r) => r.dev).join(', ')}`);
  }
}

/** nftables counters on this namespace's output hook. */
export class TrafficCounter {
  #nft;

  /** @param {string} nft path of the `nft` binary */
  constructor(nft) {
    this.#nft = nft;
  }

  /** Creates the table, its output chain and one counter rule per class of traffic. */
  async create() {
    const rules = Object.entries(RULES).map(([name, match]) => `    ${match} counter comment "${name}"`);
    const script = [
      `table inet ${TABLE} {`,
      `  chain ${CHAIN} {`,
      '    type filter hook output priority 0; policy accept;',
      ...rules,
      '  }',
      '}',
      '',
    ].join('\n');
    await run(this.#nft, ['-f', '-'], script);
  }

  /**
   * The counters now: `{ nodes, toHarnessHost, fromHarnessHost, ipv6 }`,
   * each `{ packets, bytes }` (bytes of whole IP packets).
   */
  async read() {
    const listing = JSON.parse(await run(this.#nft, ['-j', 'list', 'chain', 'inet', TABLE, CHAIN]));
    const counters = {};
    for (const item of listing.nftables) {
      const rule = item.rule;
      if (rule === undefined || !(rule.comment in RULES)) continue;
      const counter = rule.expr.find((e) => e.counter !== undefined)?.counter;
      counters[rule.comment] = { packets: counter.packets, bytes: counter.bytes };
    }
    for (const name of Object.keys(RULES)) {
      if (counters[name] === undefined) throw new Error(`nft: counter "${name}" missing from the listing`);
    }
    return counters;
  }
}

/** `after - before` for each counter. */
export function difference(before, after) {
  return Object.fromEntries(Object.keys(after).map((k) => [k, {
    packets: after[k].packets - before[k].packets,
    bytes: after[k].bytes - before[k].bytes,
  }]));
}

/**
 * Checks the accounting before any node runs (nothing else sends in this
 * namespace): `harnessPolls` (the harness's own poll functions, against
 * stand-ins) must not move the node counter, while they do show under the
 * harness address; a TCP exchange 127.0.0.1 → 127.0.0.1 must move it.
 * Throws with the counters if either fails; resolves to what was seen.
 * @param {TrafficCounter} counter
 * @param {() => Promise<void>} harnessPolls
 */
export async function verifyAccounting(counter, harnessPolls) {
  const before = await counter.read();
  await harnessPolls();
  const polled = difference(before, await counter.read());
  if (polled.nodes.packets !== 0 || polled.toHarnessHost.packets === 0 || polled.fromHarnessHost.packets === 0) {
    throw new Error(`self-check failed: harness polls must count under ${HARNESS_HOST} only, saw ${JSON.stringify(polled)}`);
  }
  const beforeNode = await counter.read();
  await tcpRoundTrip(NODE_HOST);
  const node = difference(beforeNode, await counter.read());
  if (node.nodes.packets === 0) throw new Error(`self-check failed: a ${NODE_HOST} → ${NODE_HOST} exchange was not counted: ${JSON.stringify(node)}`);
  return { polled, node };
}

/** Connects to a throwaway server on `host`, exchanges a few bytes and closes both ends. */
async function tcpRoundTrip(host) {
  const sockets = new Set();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('data', () => socket.end('pong'));
  });
  await new Promise((resolve) => server.listen(0, host, resolve));
  try {
    await new Promise((resolve, reject) => {
      const socket = connect(server.address().port, host, () => socket.write('ping'));
      socket.on('data', () => undefined);
      socket.once('end', resolve);
      socket.once('error', reject);
    });
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

/**
 * Hands out ports below the kernel's ephemeral range (so no outgoing
 * connection can hold one between the check and the bind), each checked
 * free for TCP on every address and for UDP (Serf binds both).
 */
export class PortAllocator {
  #next;
  #end;

  /** Reads this namespace's ephemeral range and starts below it. */
  static async create() {
    const [low] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number);
    const allocator = new PortAllocator();
    allocator.#end = low;
    allocator.#next = Math.max(1024, low - 12_000);
    return allocator;
  }

  /** The next port that is free for TCP (all addresses) and UDP right now. */
  async take() {
    while (this.#next < this.#end) {
      const port = this.#next++;
      if ((await tcpFree(port)) && (await udpFree(port))) return port;
    }
    throw new Error('no free port left below the ephemeral range');
  }
}

function tcpFree(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

function udpFree(port) {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(port, () => socket.close(() => resolve(true)));
  });
}
