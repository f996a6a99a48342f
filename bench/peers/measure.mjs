// One run of one system: boot, convergence, rest window, graceful leave,
// SIGKILL, SIGSTOP and SIGCONT, with false drops watched from convergence on.
// Both systems go through exactly this code; only their fleet differs.
//
// Times come from polling every observer in its own loop (an answer every
// POLL_MS per node, all nodes concurrently). A condition "every observer
// shows X" holds from the latest of the moments each observer's answers
// started showing X (and kept showing it); a moment is when the answer
// arrived, and only answers to requests sent after the event count.
//
// False drops: once the cluster has converged, every answer of a live
// observer (the SIGSTOPped node too, once resumed) is checked; each
// (observer, node) pair where a live node that was never signalled is not
// listed alive counts once. The rest window has no polling at all: before
// it the harness closes its connections, and the node-to-node counter
// (which includes clustershazbot's traffic with its master-list store) and
// each node's CPU time are read at both ends.
import { cpuSeconds, machineCpu, now, pause, pollUntil, within } from './children.mjs';
import { difference } from './netns.mjs';

/** Pause between two polls of one node. */
const POLL_MS = 100;
/** Pause between two "is it up yet" attempts on one node. */
const UP_POLL_MS = 50;
/** Longest wait for one answer. */
const ANSWER_TIMEOUT_MS = 2_000;
const BOOT_DEADLINE_MS = 120_000;
const CONVERGE_DEADLINE_MS = 120_000;
const DETECT_DEADLINE_MS = 60_000;
/** Observation (with polling) between convergence and the rest window. */
const SETTLE_MS = 5_000;
/** Nodes signalled: leave, SIGKILL, SIGSTOP (never node 0, Serf's seed). */
export const VICTIMS = { leave: 1, kill: 2, freeze: 3 };
/** Smallest fleet the sequence fits: node 0 plus one node per signal. */
export const MIN_NODES = 4;

/** Polls a set of nodes continuously; every answer (or failure) goes to every listener. */
class Poller {
  #fleet;
  /** Node index → { abort, done } of its polling loop. */
  #loops = new Map();
  #listeners = new Set();

  constructor(fleet) {
    this.#fleet = fleet;
  }

  /** Polls exactly the nodes `indices` from now on (stops the others' loops; their late answers are dropped). */
  watch(indices) {
    for (const [i, loop] of this.#loops) {
      if (!indices.includes(i)) {
        loop.abort.abort();
        this.#loops.delete(i);
      }
    }
    indices.forEach((i, k) => {
      if (this.#loops.has(i)) return;
      const abort = new AbortController();
      // Spread the first polls over one interval rather than all at once.
      const done = pause((k * POLL_MS) / indices.length, abort.signal).then(() => this.#loop(i, abort.signal));
      this.#loops.set(i, { abort, done });
    });
  }

  /** Adds a listener of `{ i, view, error, sentAt, at }`; returns its removal. */
  on(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops every loop and waits for requests in flight to end. */
  async stop() {
    const loops = [...this.#loops.values()];
    this.#loops.clear();
    for (const loop of loops) loop.abort.abort();
    await Promise.all(loops.map((loop) => loop.done));
  }

  async #loop(i, signal) {
    while (!signal.aborted) {
      const sentAt = now();
      let view;
      let error;
      try {
        view = await this.#fleet.view(i, ANSWER_TIMEOUT_MS);
      } catch (e) {
        error = e;
      }
      if (signal.aborted) return;
      const answer = { i, view, error, sentAt, at: now() };
      for (const listener of this.#listeners) listener(answer);
      await pause(POLL_MS, signal);
    }
  }
}

/**
 * Resolves once every node of `observers` shows `holds(view)` in answers to
 * requests sent after `from`, or after the deadline. Resolves to
 * `{ at, timedOut, views }`: `at` when the last observer started showing it
 * (undefined on timeout), `views` each observer's last view.
 */
function waitAll(poller, observers, holds, { from, timeoutMs }) {
  const since = new Map();
  const views = new Map();
  return new Promise((resolve) => {
    const finish = (result) => {
      off();
      clearTimeout(timer);
      resolve({ ...result, views });
    };
    const off = poller.on(({ i, view, error, sentAt, at }) => {
      if (!observers.includes(i) || sentAt < from) return;
      views.set(i, view ?? error);
      if (view !== undefined && holds(view)) {
        if (!since.has(i)) since.set(i, at);
      } else {
        since.delete(i);
      }
      if (observers.every((o) => since.has(o))) finish({ at: Math.max(...since.values()), timedOut: false });
    });
    const timer = setTimeout(() => finish({ at: undefined, timedOut: true }), Math.max(0, from + timeoutMs - now()));
  });
}

/**
 * Waits (at most 2 s) until the counters of harness traffic stop moving:
 * closing the harness's connections sends a few packets.
 */
async function harnessQuiet(counter) {
  const harness = (c) => c.toHarnessHost.packets + c.fromHarnessHost.packets;
  let last = harness(await counter.read());
  await pollUntil(async () => {
    const current = harness(await counter.read());
    const stable = current === last;
    last = current;
    return stable ? true : undefined;
  }, { timeoutMs: 2_000, intervalMs: 100 });
}

/** Seconds between two moments (ms), 2 decimals. */
const seconds = (ms) => Math.round(ms / 10) / 100;

/**
 * Runs the whole sequence on a fresh `fleet` (ShazbotFleet or SerfFleet),
 * stops it, and resolves to the figures of this run.
 * @param {object} fleet
 * @param {{ restS: number, counter: import('./netns.mjs').TrafficCounter, log: (m: string) => void }} options
 */
export async function measureRun(fleet, { restS, counter, log }) {
  const n = fleet.size;
  const all = [...Array(n).keys()];
  const poller = new Poller(fleet);
  const runStart = now();
  const signalled = new Set();
  const result = { timeouts: [], crashes: 0, false_drops: 0 };
  /** Live nodes no signal was sent to. */
  const untouched = () => all.filter((i) => !signalled.has(i) && fleet.children[i]?.running);
  const timedOut = (figure, deadlineMs, views, describe) => {
    result.timeouts.push(figure);
    const seen = [...views].map(([i, v]) => `n${i}: ${v instanceof Error ? v.message : describe(v)}`).join('; ');
    log(`TIMEOUT ${figure} after ${deadlineMs / 1000} s; last views: ${seen || 'none'}`);
    return deadlineMs / 1000;
  };
  const drops = new Map();
  let phase = 'settle';
  let watchDrops = false;
  /** Set once the run is over: exits from then on are the harness's doing. */
  let stopping = false;
  poller.on(({ i, view }) => {
    if (!watchDrops || view === undefined || (signalled.has(i) && i !== VICTIMS.freeze)) return;
    for (const t of untouched()) {
      const status = view.get(fleet.ids[t]) ?? 'absent';
      const key = `n${i}>n${t}`;
      if (status !== 'alive' && !drops.has(key)) {
        drops.set(key, phase);
        log(`FALSE DROP: n${i} lists live n${t} as ${status} (${phase})`);
      }
    }
  });

  try {
    await fleet.prepare();
    // Boot: spawn one after another at once; "up" when the node answers.
    const upAt = [];
    const start = now();
    const waitUp = (i) => pollUntil(async () => {
      await fleet.up(i, ANSWER_TIMEOUT_MS);
      upAt[i] = now();
      return true;
    }, { timeoutMs: Math.max(0, start + BOOT_DEADLINE_MS - now()), intervalMs: UP_POLL_MS });
    const ups = [];
    if (fleet.seedFirst) {
      fleet.spawn(0);
      await waitUp(0);
    }
    for (const i of all) {
      if (fleet.children[i] === undefined) fleet.spawn(i);
    }
    for (const [i, child] of fleet.children.entries()) {
      child.exited.then(({ code, signal }) => {
        if (stopping || child.signals.includes('SIGKILL') || child.signals.includes('SIGINT')) return;
        result.crashes++;
        log(`CRASH: n${i} exited unexpectedly (code ${code}, signal ${signal}) ${seconds(now() - runStart)} s into the run, during ${phase}; its last output:\n${child.output().slice(-2000)}`);
      });
    }
    for (const i of all) ups[i] = upAt[i] !== undefined ? true : waitUp(i);
    await Promise.all(ups);
    const down = all.filter((i) => upAt[i] === undefined);
    const lastUp = down.length > 0 ? start + BOOT_DEADLINE_MS : Math.max(...upAt);
    result.up_s = down.length > 0 ? timedOut('up_s', BOOT_DEADLINE_MS, new Map(down.map((i) => [i, new Error('never answered')])), String) : seconds(lastUp - start);
    log(`up in ${result.up_s} s`);

    // Convergence: every node lists all N alive.
    const everyoneAlive = (view) => fleet.ids.every((id) => view.get(id) === 'alive');
    const aliveCount = (view) => `${fleet.ids.filter((id) => view.get(id) === 'alive').length}/${n} alive`;
    poller.watch(all);
    const converged = await waitAll(poller, all, everyoneAlive, { from: lastUp, timeoutMs: CONVERGE_DEADLINE_MS });
    result.converge_after_boot_s = converged.timedOut
      ? timedOut('converge_after_boot_s', CONVERGE_DEADLINE_MS, converged.views, aliveCount)
      : seconds(converged.at - lastUp);
    log(`converged ${result.converge_after_boot_s} s after the last was up`);
    // False drops count from convergence on (or, without one, from the first agreement before a signal).
    watchDrops = !converged.timedOut;
    await pause(SETTLE_MS);

    // Rest window: no polling; nft counters and CPU time at both ends.
    await poller.stop();
    fleet.quiet?.();
    await harnessQuiet(counter);
    const pids = all.map((i) => fleet.children[i].pid);
    const readAll = () => Promise.all([now(), counter.read(), Promise.all(pids.map(cpuSeconds)), machineCpu()]);
    const [t0, traffic0, cpu0, machine0] = await readAll();
    await pause(restS * 1000);
    const [t1, traffic1, cpu1, machine1] = await readAll();
    const windowS = (t1 - t0) / 1000;
    const traffic = difference(traffic0, traffic1);
    result.bytes_node_s = Math.round((traffic.nodes.bytes / n / windowS) * 10) / 10;
    result.cpu_pct = Math.round((all.reduce((sum, i) => sum + (cpu1[i] - cpu0[i]), 0) / n / windowS) * 100 * 100) / 100;
    result.rest = { window_s: seconds(t1 - t0), packets_node_s: Math.round(traffic.nodes.packets / n / windowS * 10) / 10, harness_packets: traffic.toHarnessHost.packets + traffic.fromHarnessHost.packets, ipv6_bytes: traffic.ipv6.bytes };
    // How busy the whole machine was (other work on it disturbs every figure).
    result.machine_busy_pct = Math.round(((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * 1000) / 10;
    log(`rest ${result.rest.window_s} s: ${result.bytes_node_s} B/node/s (${result.rest.packets_node_s} packets/node/s), ${result.cpu_pct} % CPU/node; harness packets ${result.rest.harness_packets}, IPv6 bytes ${result.rest.ipv6_bytes}; machine busy ${result.machine_busy_pct} % (all cores, all processes)`);
    if (result.rest.harness_packets > 0) log(`WARNING: ${result.rest.harness_packets} harness packets during the rest window`);

    /**
     * Waits until every untouched node lists every untouched node alive,
     * sends `sig` to `target`, and measures until every other untouched node
     * shows `holds` of the target's status. Resolves to
     * `{ s, at, observers, statuses }`: seconds, when the signal went, who
     * watched, and the target's statuses in their last views.
     */
    const signalAndWait = async (figure, target, sig, holds) => {
      phase = `before ${figure}`;
      const ready = untouched();
      poller.watch(ready);
      const settled = await waitAll(poller, ready, (v) => ready.every((t) => v.get(fleet.ids[t]) === 'alive'), { from: now(), timeoutMs: DETECT_DEADLINE_MS });
      if (settled.timedOut) timedOut(`cluster agreement before ${figure}`, DETECT_DEADLINE_MS, settled.views, aliveCount);
      else watchDrops = true;
      const observers = ready.filter((i) => i !== target);
      poller.watch(observers);
      phase = figure;
      signalled.add(target);
      const at = now();
      fleet.children[target].signal(sig);
      const status = (v) => v.get(fleet.ids[target]) ?? 'absent';
      const seen = await waitAll(poller, observers, (v) => holds(status(v)), { from: at, timeoutMs: DETECT_DEADLINE_MS });
      const s = seen.timedOut ? timedOut(figure, DETECT_DEADLINE_MS, seen.views, status) : seconds(seen.at - at);
      log(`${figure}: n${target} ${sig}, ${s} s`);
      return { s, at, observers, statuses: [...new Set([...seen.views.values()].filter((v) => v instanceof Map).map(status))] };
    };
    const notAlive = (status) => status !== 'alive';

    const leave = await signalAndWait('leave_s', VICTIMS.leave, 'SIGINT', notAlive);
    result.leave_s = leave.s;
    result.leave_seen_as = leave.statuses.join('/');
    const leaveExit = await within(fleet.children[VICTIMS.leave].exited, 30_000);
    result.leave_exit = leaveExit === undefined ? 'still running after 30 s' : leaveExit.signal ?? `code ${leaveExit.code}`;
    // What the others list it as once it is gone (Serf: "leaving" turns "left").
    const after = await Promise.all(leave.observers.map((i) => fleet.view(i, ANSWER_TIMEOUT_MS).then((v) => v.get(fleet.ids[VICTIMS.leave]) ?? 'absent', (e) => `error ${e.message}`)));
    const finalStatuses = [...new Set(after)].join('/');
    if (finalStatuses !== result.leave_seen_as) result.leave_seen_as += ` then ${finalStatuses}`;
    log(`leave seen as ${result.leave_seen_as}; the leaver exited with ${result.leave_exit}`);

    result.detect_s = (await signalAndWait('detect_s', VICTIMS.kill, 'SIGKILL', notAlive)).s;

    const freeze = await signalAndWait('freeze_s', VICTIMS.freeze, 'SIGSTOP', notAlive);
    result.freeze_s = freeze.s;
    phase = 'rejoin_s';
    // The resumed node is live again: polled, and its answers watched for false drops.
    poller.watch([...freeze.observers, VICTIMS.freeze]);
    const resumedAt = now();
    fleet.children[VICTIMS.freeze].signal('SIGCONT');
    const rejoined = await waitAll(poller, freeze.observers, (v) => v.get(fleet.ids[VICTIMS.freeze]) === 'alive', { from: resumedAt, timeoutMs: DETECT_DEADLINE_MS });
    result.rejoin_s = rejoined.timedOut
      ? timedOut('rejoin_s', DETECT_DEADLINE_MS, rejoined.views, (v) => v.get(fleet.ids[VICTIMS.freeze]) ?? 'absent')
      : seconds(rejoined.at - resumedAt);
    log(`rejoin_s: n${VICTIMS.freeze} SIGCONT, ${result.rejoin_s} s`);
  } finally {
    watchDrops = false;
    stopping = true;
    await poller.stop();
    await fleet.stop();
  }
  result.false_drops = drops.size;
  return result;
}
