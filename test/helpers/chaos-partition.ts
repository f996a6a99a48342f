/**
 * Chaos group "partition 5/4": nine real processes in network namespaces
 * (see chaos-netns.ts), the link between the sides cut for a while, then
 * restored. The master-list store stays on the side of five.
 */
import { detectionBoundMs } from './chaos-failures.js';
import {
  CONVERGE_MS, eventsOf, listsOnline, observe, startConvergedFleet, TIMING, untilViews,
  type ChaosServer, type Observation, type View,
} from './chaos-fleet.js';
import { checkNetns, createTopology, removeStale } from './chaos-netns.js';
import { noteIn, type RecordRow, type ScenarioGroup, type Scope } from './chaos-report.js';

const SIDES = [5, 4] as const;
/** After the heal, every server must list every server online within this. */
const HEAL_MS = 30_000;
/** Once the partition ends, each side must list its own side online within this (it normally already does). */
const SETTLE_MS = 10_000;
/** Pause between two views of one observer during the partition. */
const OBSERVE_EVERY_MS = 500;

/** Options of {@link partitionGroup}. */
export interface PartitionOptions {
  /** How long the sides stay apart, ms. */
  readonly partitionMs: number;
}

/**
 * The group (one row). A partition longer than three detection bounds must
 * also end with each side listing the other offline; a shorter one only
 * reports how far detection got.
 */
export function partitionGroup({ partitionMs }: PartitionOptions): ScenarioGroup {
  const total = SIDES[0] + SIDES[1];
  const mustDetect = partitionMs >= 3 * detectionBoundMs(total);
  return {
    name: 'partition',
    deadlineMs: 10_000 + CONVERGE_MS + partitionMs + SETTLE_MS + HEAL_MS + 10_000,
    rows: [{
      scenario: `partition ${SIDES[0]}/${SIDES[1]}`,
      happened: `trunk veth between the sides' bridges down for ${partitionMs / 1000} s, then up (network namespaces; the store is on the ${SIDES[0]} side)`,
      mustHold: `the cut is real (cross-side suspicions); no server lists a member of its own side offline; each side ends with its own side online${mustDetect ? ' and the other side offline' : ''}; ` +
        `after the heal all ${total} list all ${total} online within ${HEAL_MS / 1000} s`,
    }],
    async run(scope: Scope, record: RecordRow) {
      await checkNetns();
      await removeStale();
      const topology = await createTopology(SIDES);
      scope.defer(() => topology.destroy());
      const servers = await startConvergedFleet(scope, Array.from({ length: total }, (_, i) => topology.place(i)), topology.storeHost);
      const all = servers.map((s) => s.baseUrl);

      const sides = [servers.slice(0, SIDES[0]), servers.slice(SIDES[0])];
      const sideOf = (s: ChaosServer): ChaosServer[] => (sides[0]?.includes(s) ? sides[0] : sides[1]) ?? [];
      const byName = new Map(servers.map((s) => [s.name, s]));
      const problems: string[] = [];

      const cutAt = Date.now();
      await topology.partition();
      const observations = await observe(servers, () => cutAt + partitionMs, OBSERVE_EVERY_MS);
      const ownOnline = (view: View, s: ChaosServer): boolean => listsOnline(sideOf(s).map((o) => o.baseUrl))(view);
      await untilViews(servers, ownOnline, 'each side to list its own side online at the end of the partition', SETTLE_MS)
        .catch(noteIn(problems));
      const healAt = Date.now();
      await topology.heal();

      // During the partition: nobody may lose a member of its own side.
      const answered = observations.filter((o): o is Observation & { view: View } => typeof o.view !== 'string');
      const ownOffline = answered.filter((o) => sideOf(byName.get(o.observer) as ChaosServer).some((m) => o.view.get(m.baseUrl) === 'offline'));
      if (ownOffline.length > 0) problems.push(`${ownOffline.length} views listed a member of the observer's own side offline (first by ${ownOffline[0]?.observer})`);
      const ownDowns = servers.flatMap((s) => eventsOf([s], 'server:down', cutAt, sideOf(s).map((m) => m.baseUrl))).filter((e) => e.at < healAt);
      if (ownDowns.length > 0) problems.push(`server:down for its own side: ${ownDowns.map((e) => `${e.baseUrl} by ${e.by}`).join(', ')}`);
      const silent = servers.filter((s) => !answered.some((o) => o.observer === s.name && o.at > cutAt + partitionMs / 2));
      if (silent.length > 0) problems.push(`stopped answering during the partition: ${silent.map((s) => s.name).join(', ')}`);

      // Evidence that the cut was real: someone suspected a member of the other side.
      const crossSuspicions = servers.flatMap((s) => eventsOf([s], 'server:suspect', cutAt, servers.filter((o) => !sideOf(s).includes(o)).map((o) => o.baseUrl)));
      if (crossSuspicions.length === 0) problems.push('nobody suspected the other side: the link was not cut');
      // How far each side got in marking the other side offline.
      const detectedAt = servers.map((s) => {
        const others = servers.filter((o) => !sideOf(s).includes(o)).map((o) => o.baseUrl);
        return answered.find((o) => o.observer === s.name && others.every((u) => o.view.get(u) === 'offline'))?.at;
      });
      const detectedBy = detectedAt.filter((t) => t !== undefined).length;
      if (mustDetect && detectedBy < total) problems.push(`only ${detectedBy}/${total} servers listed the whole other side offline during the partition`);
      const detectedMs = detectedBy === total ? `${Math.max(...(detectedAt as number[])) - cutAt} ms` : `not by all (${detectedBy}/${total})`;

      const healMs = await untilViews(servers, listsOnline(all), `all ${total} to list all ${total} online after the heal`, HEAL_MS)
        .catch(noteIn(problems));
      // Reported, not required: verdicts of the other side that win merges after the heal (each then refuted).
      const healDowns = eventsOf(servers, 'server:down', healAt).length;
      record(0, `apart ${healAt - cutAt} ms; ${crossSuspicions.length} suspicions across the cut; own side listed offline in ${ownOffline.length}/${answered.length} views; ` +
        `other side offline everywhere after ${detectedMs} (detection bound ${detectionBoundMs(total)} ms); ` +
        `healed: all online everywhere ${healMs ?? '?'} ms after the link came back (anti-entropy every ${TIMING.gossipIntervalS} s), ` +
        `with ${healDowns} transient server:down events for live servers on the way`, problems);
    },
  };
}
