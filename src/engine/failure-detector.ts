import type { TimerHandle } from '../core/clock.js';
import { safeLog } from '../core/logger.js';
import type { MemberEntry } from '../membership/entry.js';
import { Awareness } from '../swim/awareness.js';
import type { ProbeRing } from '../swim/probe-ring.js';
import { suspicionTimeoutMs } from '../swim/suspicion.js';
import type { Dissemination } from './dissemination.js';
import { hotSettings, type HotSettings } from './hot-settings.js';
import type { EnginePorts } from './ports.js';

interface Suspicion {
  readonly version: number;
  readonly confirmers: Set<string>;
  readonly startedAt: number;
  timer: TimerHandle | undefined;
}

/**
 * SWIM failure detection with Lifeguard's refinements, mapped onto the
 * gossip endpoint:
 * - every `probeIntervalMs` this server probes the member the probe ring
 *   assigns to it (a small signed exchange);
 * - if the probe gets no answer within `probeTimeoutMs`, `indirectProbes`
 *   other members are asked to probe the target, and the target is probed
 *   once more directly at the same time; any success clears it;
 * - otherwise the target becomes `suspect` at its current version, and the
 *   suspicion is disseminated; the target refutes it with a higher version;
 * - each server holding a suspicion turns it into `offline` (reason
 *   `failed`) once it has stayed unrefuted for the suspicion timeout, which
 *   starts at its maximum and shrinks as independent confirmations arrive;
 * - this server's own probe timings stretch (Awareness) when it sees signs
 *   of its own slowness: late timers, missing answers from helpers, being
 *   suspected itself.
 */
export class FailureDetector {
  readonly awareness: Awareness;
  readonly #suspicions = new Map<string, Suspicion>();
  /** The probe timings, shared across engines (see hot-settings.ts). */
  readonly #hot: HotSettings;

  constructor(
    private readonly ports: EnginePorts,
    private readonly dissemination: Dissemination,
  ) {
    this.awareness = new Awareness(ports.config.awarenessMax);
    this.#hot = hotSettings(ports.config);
  }

  /** Starts the probe loop at a random phase within the first period. */
  start(): void {
    const p = this.ports.config.probeIntervalMs;
    this.#scheduleProbe(Math.round(this.ports.random.float() * p));
  }

  /** Forgets every suspicion timer (on shutdown). */
  stop(): void {
    for (const s of this.#suspicions.values()) if (s.timer !== undefined) this.ports.clock.clearTimer(s.timer);
    this.#suspicions.clear();
  }

  /** Probe rounds run so far (one per protocol period while this server is online). */
  probeRounds = 0;

  /** Number of suspicions this server is timing. */
  get suspicions(): number {
    return this.#suspicions.size;
  }

  /** The probe ring: the table's up members (see MembershipTable.upRing). */
  get ring(): ProbeRing {
    return this.ports.table.upRing;
  }

  /** Keeps the suspicion timers in step with one table change. */
  onChange(before: MemberEntry | undefined, after: MemberEntry | undefined): void {
    const url = (after ?? before)!.baseUrl;
    if (after?.state === 'suspect' && url !== this.ports.selfUrl) this.#observeSuspect(after);
    else this.#clear(url);
  }

  /**
   * Counts a suspicion claim (the winning entry or a confirmation that lost
   * the merge). Returns true if it was a new independent confirmation, which
   * the caller disseminates.
   */
  confirm(entry: MemberEntry): boolean {
    const s = this.#suspicions.get(entry.baseUrl);
    if (s === undefined || entry.by === undefined || s.version !== entry.lastUpdate || s.confirmers.has(entry.by)) return false;
    s.confirmers.add(entry.by);
    this.#arm(entry.baseUrl, s);
    return true;
  }

  #observeSuspect(entry: MemberEntry): void {
    const existing = this.#suspicions.get(entry.baseUrl);
    if (existing !== undefined && existing.version === entry.lastUpdate) {
      this.confirm(entry);
      return;
    }
    this.#clear(entry.baseUrl);
    const s: Suspicion = {
      version: entry.lastUpdate,
      confirmers: new Set(entry.by === undefined ? [] : [entry.by]),
      startedAt: this.ports.clock.now(),
      timer: undefined,
    };
    this.#suspicions.set(entry.baseUrl, s);
    this.#arm(entry.baseUrl, s);
    this.#confirmSoon(entry);
  }

  /**
   * A suspicion raised by another server is checked at once by the target's
   * next `expectedConfirmations` probers (the distinct servers the ring
   * assigns to it from this slot on: a handful, whatever the cluster's size),
   * instead of when the assignment turns to them. Their independent
   * confirmations shrink the suspicion timeout to its minimum within about
   * one probe's time limits (Lifeguard's design, fed sooner); a live target
   * just answers them. The check is an ordinary probe, indirect probes
   * included.
   */
  #confirmSoon(entry: MemberEntry): void {
    const { selfUrl, table, clock } = this.ports;
    const k = this.ports.config.expectedConfirmations;
    if (k === 0 || entry.by === selfUrl || table.self()?.state !== 'online') return;
    const slot = this.#slot(clock.now());
    // The first k distinct probers other than the suspecter; a small ring may
    // assign the same prober twice, so look a few slots further (bounded).
    const chosen = new Set<string>();
    for (let j = 0; j < 4 * k && chosen.size < k; j++) {
      const p = this.ring.prober(entry.baseUrl, slot + j);
      if (p !== undefined && p !== entry.by) chosen.add(p);
    }
    if (!chosen.has(selfUrl)) return;
    this.ports.after(0, 'confirmation probe', async () => {
      if (this.ports.isActive() && table.self()?.state === 'online') await this.#probe(entry.baseUrl);
    });
  }

  /** (Re)sets the timer for the remaining suspicion time given the confirmations so far. */
  #arm(url: string, s: Suspicion): void {
    if (s.timer !== undefined) this.ports.clock.clearTimer(s.timer);
    const n = this.ports.table.upPeerCount() + 1;
    const c = this.ports.config;
    const timeout = suspicionTimeoutMs(n, Math.max(0, s.confirmers.size - 1), {
      probeIntervalMs: c.probeIntervalMs,
      suspicionMult: c.suspicionMult,
      suspicionMaxMult: c.suspicionMaxMult,
      expectedConfirmations: c.expectedConfirmations,
    });
    const deadline = s.startedAt + timeout;
    // A server that suspected or confirmed it itself starts the last check
    // early enough for its answers to be in at the deadline, so the check
    // adds no time to the detection of a real failure.
    const mine = s.confirmers.has(this.ports.selfUrl);
    const lead = mine ? this.awareness.scale(Math.max(c.probeTimeoutMs, c.indirectProbeTimeoutMs)) : 0;
    const remaining = Math.max(0, deadline - lead - this.ports.clock.now());
    s.timer = this.ports.clock.setTimer(remaining, () => {
      s.timer = undefined;
      if (this.#suspicions.get(url) !== s || !this.ports.isActive()) return;
      if (s.confirmers.has(this.ports.selfUrl)) {
        void this.#verifyThenFail(url, s, deadline);
        return;
      }
      // Only the servers that suspected or confirmed it themselves (a handful)
      // make the last check at once; the others wait for their verdict to
      // arrive by gossip, and check themselves only if it does not. Otherwise
      // every server of a large cluster would probe the target and three
      // helpers at the same moment: 4 N messages per failure.
      const graceMs = Math.round(c.probeIntervalMs * (1 + this.ports.random.float()));
      s.timer = this.ports.clock.setTimer(graceMs, () => {
        s.timer = undefined;
        if (this.#suspicions.get(url) === s && this.ports.isActive()) void this.#verifyThenFail(url, s);
      });
    });
  }

  /**
   * Before turning a suspicion into `offline`, asks the target once more,
   * directly and through `indirectProbes` helpers at the same time, carrying
   * the claim: a live target refutes it in its answer. This catches the rare
   * server that caught the suspicion rumor but missed the refutation (under
   * heavy loss a rumor can miss a server). Started ahead of the `deadline`
   * (see #arm), it costs a real failure no time: a verdict reached early
   * waits for the deadline, so a refutation can still arrive until then.
   */
  async #verifyThenFail(url: string, s: Suspicion, deadline = 0): Promise<void> {
    const { table, config } = this.ports;
    const claim = table.get(url);
    if (claim === undefined || claim.state !== 'suspect' || claim.lastUpdate !== s.version) return;
    const entries = [claim, ...this.dissemination.take()];
    const helpers = table.sampleUpPeers(this.ports.random, config.indirectProbes, url);
    const answers = await Promise.all([
      this.ports.send(url, { entries, ping: true, kind: 'probe' }, this.awareness.scale(config.probeTimeoutMs)),
      ...helpers.map((h) => this.ports.send(h, { entries, ping: true, probe: url, kind: 'probe' }, this.awareness.scale(config.indirectProbeTimeoutMs))),
    ]);
    if (this.#suspicions.get(url) !== s || !this.ports.isActive()) return; // refuted or cleared meanwhile
    const alive = answers[0] !== undefined || answers.slice(1).some((a) => a?.probeOk === true);
    if (alive) {
      // It answers but its refutation has not reached us yet: give it one more minimum period.
      s.timer = this.ports.clock.setTimer(this.#minTimeout(), () => {
        s.timer = undefined;
        if (this.#suspicions.get(url) === s && this.ports.isActive()) void this.#verifyThenFail(url, s);
      });
      return;
    }
    const early = deadline - this.ports.clock.now();
    if (early > 0) {
      // Nothing reached it, ahead of the deadline: the verdict waits for it (a refutation may still come).
      s.timer = this.ports.clock.setTimer(early, () => {
        s.timer = undefined;
        if (this.#suspicions.get(url) === s && this.ports.isActive()) this.#fail(url, s);
      });
      return;
    }
    this.#fail(url, s);
  }

  /** Marks a suspect that stayed unrefuted offline (reason `failed`), and spreads the news. */
  #fail(url: string, s: Suspicion): void {
    const { table } = this.ports;
    this.#suspicions.delete(url);
    const change = table.claimFailure(url, 'offline', this.ports.selfUrl, this.ports.clock.now(), s.version);
    if (change !== undefined) {
      safeLog(this.ports.log, 'warn', 'suspicion timed out: marked offline', { baseUrl: url, confirmations: s.confirmers.size });
      this.ports.applyOwnChange(change);
    }
  }

  #minTimeout(): number {
    const n = this.ports.table.upPeerCount() + 1;
    const c = this.ports.config;
    return suspicionTimeoutMs(n, Number.MAX_SAFE_INTEGER, {
      probeIntervalMs: c.probeIntervalMs,
      suspicionMult: c.suspicionMult,
      suspicionMaxMult: c.suspicionMaxMult,
      expectedConfirmations: c.expectedConfirmations,
    });
  }

  #clear(url: string): void {
    const s = this.#suspicions.get(url);
    if (s === undefined) return;
    if (s.timer !== undefined) this.ports.clock.clearTimer(s.timer);
    this.#suspicions.delete(url);
  }

  #scheduleProbe(delayMs: number): void {
    const due = this.ports.clock.now() + delayMs;
    this.ports.after(delayMs, 'probe', async () => {
      if (!this.ports.isActive()) return;
      const late = this.ports.clock.now() - due;
      // A timer that fires half a period late means this process was stalled
      // (GC, CPU starvation, SIGSTOP): trust our own verdicts a little less.
      if (late > this.#hot.probeIntervalMs / 2) this.awareness.apply(1);
      this.#scheduleProbe(this.awareness.scale(this.#hot.probeIntervalMs));
      await this.#probeRound();
    });
  }

  /** One protocol period: probe the ring's target, directly then indirectly. */
  async #probeRound(): Promise<void> {
    const { table, clock } = this.ports;
    if (table.self()?.state !== 'online') return; // an offline server does not probe
    this.probeRounds++;
    const target = this.ring.target(this.ports.selfUrl, this.#slot(clock.now()));
    if (target !== undefined) await this.#probe(target);
  }

  /** Probes `target`, directly then indirectly; raises or confirms a suspicion if nothing reaches it. */
  async #probe(target: string): Promise<void> {
    const { table } = this.ports;
    const config = this.#hot;
    const entry = table.get(target);
    if (entry === undefined || entry.state === 'offline') return;
    const version = entry.lastUpdate;
    const direct = await this.ports.send(target, { entries: this.dissemination.take(), ping: true, kind: 'probe' }, this.awareness.scale(config.probeTimeoutMs));
    if (direct !== undefined) {
      this.awareness.apply(-1);
      return;
    }
    const helpers = table.sampleUpPeers(this.ports.random, config.indirectProbes, target);
    const indirectMs = this.awareness.scale(config.indirectProbeTimeoutMs);
    // A second direct probe goes out alongside the indirect ones (memberlist's
    // TCP fallback ping): one lost request or reply, or a stale keep-alive
    // connection, no longer needs all k helper paths to fail too before a
    // suspicion. It takes the indirect probes' time limit, so it adds no delay.
    const [retry, answers] = await Promise.all([
      this.ports.send(target, { entries: this.dissemination.take(), ping: true, kind: 'probe' }, indirectMs),
      Promise.all(helpers.map((h) => this.ports.send(h, { entries: this.dissemination.take(), ping: true, probe: target, kind: 'probe' }, indirectMs))),
    ]);
    // Lifeguard: a helper that does not answer at all suggests the problem is on our side.
    if (answers.some((a) => a === undefined)) this.awareness.apply(1);
    if (answers.some((a) => a?.probeOk === true)) {
      this.awareness.apply(1); // others reach it and we do not: likely our own slowness
      return;
    }
    if (retry !== undefined) return;
    if (!this.ports.isActive()) return;
    this.#suspect(target, version);
  }

  /**
   * The probe ring's slot at `now`: the assignment of targets changes every
   * {@link PROBE_SLOT_PERIODS} periods, so that each server probes the same
   * target a few times in a row over one kept-alive connection.
   */
  #slot(now: number): number {
    return Math.floor(now / (this.#hot.probeIntervalMs * PROBE_SLOT_PERIODS));
  }

  /** Raises (or confirms) a suspicion about `target` at `version`. */
  #suspect(target: string, version: number): void {
    const now = this.ports.clock.now();
    const change = this.ports.table.claimFailure(target, 'suspect', this.ports.selfUrl, now, version);
    if (change !== undefined) {
      safeLog(this.ports.log, 'info', 'probe and indirect probes failed: suspect', { baseUrl: target });
      this.ports.applyOwnChange(change);
      return;
    }
    const current = this.ports.table.get(target);
    if (current?.state === 'suspect' && current.lastUpdate === version) {
      const confirmation: MemberEntry = { ...current, by: this.ports.selfUrl, downAt: now };
      if (this.confirm(confirmation)) {
        // Hold the same entry the others will adopt (the later claim wins the
        // tie), so that digests agree once the confirmation has spread.
        this.ports.table.apply([confirmation]);
        this.dissemination.enqueue(confirmation, `${target}#${this.ports.selfUrl}`);
      }
    }
  }
}

/**
 * Periods during which a server keeps its probe target. Each member is still
 * probed once per period, by the same prober for this many periods; the
 * probes of one prober to one target are then a period apart (2.5 s at the
 * defaults), inside the transport's 4 s connection reuse, so only the first
 * of them opens a TCP connection: a fresh connection costs about 330 bytes
 * on the wire (handshake and close), on top of the 886 bytes of a probe
 * exchange over a kept connection (tcpdump on loopback; docs/operations.md). A paused or faulty prober can hide its target for at most this many
 * periods, and the suspicion of a target is confirmed at once by its next
 * probers (see {@link FailureDetector}), not when the assignment turns.
 */
export const PROBE_SLOT_PERIODS = 4;
