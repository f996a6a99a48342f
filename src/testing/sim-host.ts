/**
 * The processes of a simulated network: what the network knows about each
 * URL (a {@link Host}), and one incarnation of the process serving it (a
 * {@link SimProcess}), through which its work runs.
 */
import type { Transport, TransportRequest, TransportResponse } from '../core/transport.js';
import type { SimNetwork } from './sim-network.js';

/** Lifecycle of the process at a URL. */
export type HostState = 'up' | 'paused' | 'crashed';


/** A request handler of a host: the request and its path below the host's URL. */
export type RawHandler = (req: TransportRequest, path: string) => TransportResponse | Promise<TransportResponse>;

/** Everything the network knows about one URL. */
export class Host {
  state: HostState = 'up';
  /** Incarnation: bumped by every crash, so work of a dead process is told apart from its successor's. */
  epoch = 0;
  handler: RawHandler | undefined;
  /** Work that reached this host while paused, in arrival order. */
  held: Array<() => void> = [];
  /** Bit k set: this host is in the `from` set of block rule k. */
  fromBits: number[] | undefined;
  /** Bit k set: this host is in the `to` set of block rule k. */
  toBits: number[] | undefined;
  bytesSent = 0;
  constructor(readonly url: string) {}
}

/**
 * One incarnation of the process at a URL: work run through it is dropped
 * once that process crashed (or was replaced by a restart), and held while
 * it is paused.
 */
export class SimProcess {
  /** @internal created by {@link SimNetwork.process}. */
  constructor(
    private readonly net: SimNetwork,
    private readonly host: Host,
    private readonly epoch: number,
  ) {}

  /** The URL this process serves. */
  get url(): string {
    return this.host.url;
  }

  /** True until this incarnation crashes or is replaced. */
  get alive(): boolean {
    return this.host.epoch === this.epoch && this.host.state !== 'crashed';
  }

  /**
   * Runs `fn` as this process: at once if it is up, queued while it is
   * paused (run in order at resume), never if it crashed or was replaced.
   */
  run(fn: () => void): void {
    const h = this.host;
    if (h.epoch !== this.epoch || h.state === 'crashed') return;
    if (h.state === 'paused') h.held.push(fn);
    else fn();
  }

  /** A transport whose requests come from this process. */
  transport(): Transport {
    return { request: (req) => this.net.send(this, req) };
  }
}
