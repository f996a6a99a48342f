/**
 * Start and shutdown of one engine: idle → starting → running → stopping →
 * stopped, each step idempotent.
 */
import { safeLog } from '../core/logger.js';
import { warnIfShortSecrets } from '../secret-strength.js';
import type { AntiEntropy } from './anti-entropy.js';
import type { EngineCore } from './core.js';
import type { GossipSender } from './gossip-sender.js';
import type { MasterListSync } from './master-list-sync.js';
import type { Merger } from './merger.js';

/** Starts and shuts down the engine's parts. */
export class Lifecycle {
  #startPromise: Promise<void> | undefined;
  #shutdownPromise: Promise<void> | undefined;

  constructor(
    private readonly core: EngineCore,
    private readonly parts: {
      readonly merger: Merger;
      readonly sender: GossipSender;
      readonly antiEntropy: AntiEntropy;
      readonly masterList: MasterListSync;
    },
  ) {}

  start(): Promise<void> {
    if (this.#startPromise === undefined) this.#startPromise = this.#start();
    return this.#startPromise;
  }

  async #start(): Promise<void> {
    const { core, parts } = this;
    if (core.status !== 'idle') return;
    core.setStatus('starting');
    parts.merger.assertSelf();
    safeLog(core.log, 'info', 'starting', { baseUrl: core.baseUrl, monitor: core.config.monitor });
    if (core.config.legacyAuth) {
      safeLog(core.log, 'warn', 'SHAZBOT_LEGACY_AUTH is on: 1.x peers send the gossip and control secrets in plain text, and this server does too when it talks to them. Turn it off once every server runs 2.x.');
      warnIfShortSecrets(core.log, core.config);
    }
    const listed = await parts.masterList.bootstrap();
    if (core.currentStatus() !== 'starting') return; // shut down while bootstrapping
    core.setStatus('running');
    core.detector.start();
    parts.antiEntropy.schedule();
    parts.masterList.scheduleAnnounce(parts.masterList.announceDelay());
    // A server the master list does not know yet announces at once, so the
    // next server to start finds it instead of forming a cluster of its own.
    if (listed === false) core.spawn('announce', () => parts.masterList.announce());
    safeLog(core.log, 'info', 'running', { known: core.table.size, up: core.table.upPeerCount() + 1 });
    if (core.ext !== undefined) core.ext.started();
  }

  shutdown(): Promise<void> {
    if (this.#shutdownPromise === undefined) this.#shutdownPromise = this.#shutdown();
    return this.#shutdownPromise;
  }

  async #shutdown(): Promise<void> {
    const { core, parts } = this;
    if (core.status === 'idle' || core.status === 'stopped') {
      core.setStatus('stopped');
      return;
    }
    core.setStatus('stopping');
    core.cancelTimers();
    // Extensions hear of it before the peers do; their work shares the time limit with the leave fan-out.
    const stopping = core.ext === undefined ? undefined : core.ext.stopping();
    core.desired = { state: 'offline', reason: 'left' };
    const self = parts.merger.assertSelf();
    safeLog(core.log, 'info', 'shutting down: telling peers this server leaves');
    const timeout = Math.min(core.config.exchangeTimeoutMs, core.config.shutdownTimeoutMs);
    const work = [core.fanout((peer) => parts.sender.send(peer, { entries: [self], ping: true, kind: 'leave' }, timeout))];
    if (stopping !== undefined) work.push(stopping);
    if (core.config.updateMasterListOnShutdown) work.push(parts.masterList.announce());
    await core.withTimeout(Promise.all(work), core.config.shutdownTimeoutMs).catch(() => {
      safeLog(core.log, 'warn', 'shutdown notifications did not all finish in time', { timeoutMs: core.config.shutdownTimeoutMs });
    });
    core.cancelTimers();
    core.setStatus('stopped');
  }
}
