// Serf's side: N `serf agent` processes at their defaults (LAN profile),
// each bound to 127.0.0.1, node 0 the seed every other one joins, RPC on
// 127.0.0.2 for the harness. Views come from each agent's `members` over one
// persistent RPC connection per agent.
import { Child } from './children.mjs';
import { HARNESS_HOST, NODE_HOST } from './netns.mjs';
import { SerfRpc } from './serf-rpc.mjs';

/** N Serf agents. */
export class SerfFleet {
  name = 'serf';
  /**
   * `-join` fails (and the agent exits) if the seed is not listening yet:
   * node 0 is spawned and up first, then the others as fast as possible.
   */
  seedFirst = true;
  /** @type {Child[]} */
  children = [];
  /** Node names: how member lists name them. */
  ids = [];
  #ports = [];
  #rpcPorts = [];
  /** @type {(SerfRpc | undefined)[]} */
  #rpc = [];

  /**
   * @param {number} size
   * @param {import('./netns.mjs').PortAllocator} ports
   * @param {string} binary path of `serf`
   */
  constructor(size, ports, binary) {
    this.size = size;
    this.portAllocator = ports;
    this.binary = binary;
  }

  /** Allocates a gossip port (TCP and UDP) and an RPC port per node. */
  async prepare() {
    for (let i = 0; i < this.size; i++) {
      this.ids.push(`n${i}`);
      this.#ports.push(await this.portAllocator.take());
      this.#rpcPorts.push(await this.portAllocator.take());
    }
  }

  /** Starts agent `i` with nothing but its name, addresses and seed. */
  spawn(i) {
    const args = [
      'agent',
      `-node=${this.ids[i]}`,
      `-bind=${NODE_HOST}:${this.#ports[i]}`,
      `-rpc-addr=${HARNESS_HOST}:${this.#rpcPorts[i]}`,
      '-log-level=err',
      ...(i === 0 ? [] : [`-join=${NODE_HOST}:${this.#ports[0]}`]),
    ];
    this.children[i] = new Child(`serf n${i}`, this.binary, args, { env: { PATH: process.env.PATH } });
  }

  /** Resolves once agent `i` answers the RPC handshake (the connection is kept for its views). */
  async up(i, timeoutMs) {
    await this.#connection(i, timeoutMs);
  }

  /** Agent `i`'s view: Map(name → Serf status: alive, leaving, left, failed). */
  async view(i, timeoutMs) {
    const rpc = await this.#connection(i, timeoutMs);
    const members = await rpc.members(timeoutMs);
    return new Map(members.map((m) => [String(m.Name), String(m.Status)]));
  }

  async #connection(i, timeoutMs) {
    const current = this.#rpc[i];
    if (current !== undefined && current.closed === undefined) return current;
    this.#rpc[i] = await SerfRpc.open(HARNESS_HOST, this.#rpcPorts[i], timeoutMs);
    return this.#rpc[i];
  }

  /**
   * Closes the RPC connections before a rest window: the agents' TCP
   * keep-alive probes on them would be harness packets in it. The next
   * view reconnects.
   */
  quiet() {
    for (const rpc of this.#rpc.splice(0)) rpc?.close();
  }

  /** Closes the RPC connections and SIGKILLs every agent still running. */
  async stop() {
    for (const rpc of this.#rpc) rpc?.close();
    await Promise.all(this.children.filter(Boolean).map((c) => c.kill()));
  }
}
