/**
 * A two-sided network of namespaces for the partition scenario (needs root
 * and iproute2; `tc netem` and packet filters are not used):
 *
 * - a hub namespace with one bridge per side, joined by a trunk veth pair;
 *   cutting the trunk (`ip link set … down`) partitions the sides;
 * - one namespace per server, its `eth0` on its side's bridge, address
 *   `10.K.0.(11+i)/24` (the data network, used for gossip);
 * - a management link per server to this namespace, `10.K.1.(4i+2)/30`,
 *   so this process can watch both sides while they cannot see each other;
 * - a link from this namespace to side 0's bridge, `10.K.0.254/24`, for the
 *   master-list store: side 0 keeps it during a partition, side 1 loses it.
 *
 * Names start with `cshz-<pid>-` (namespaces) and `cz-<pid base 36>-` (links
 * here), so stale ones from a crashed run are recognised and removed.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ServerPlace } from './chaos-fleet.js';

const exec = promisify(execFile);
const NS_PREFIX = 'cshz-';
const LINK_PREFIX = 'cz-';

/** Port every server listens on in its own namespace. */
const PORT = 8080;

/** A built two-sided network. */
export interface Topology {
  /** Address this process's store listens on, on side 0's bridge. */
  readonly storeHost: string;
  /** Where server `i` (0-based over both sides) lives; servers are assigned to sides in order. */
  place(i: number): ServerPlace;
  /** Cuts the trunk: the sides can no longer reach each other (nor side 1 the store). */
  partition(): Promise<void>;
  /** Restores the trunk. */
  heal(): Promise<void>;
  /** Deletes every namespace (and with them every link). Idempotent. */
  destroy(): Promise<void>;
}

/** Runs a shell script of `ip` commands, failing with its stderr. */
async function run(script: readonly string[]): Promise<void> {
  try {
    await exec('sh', ['-ec', script.join('\n')], { timeout: 30_000 });
  } catch (e) {
    const detail = (e as { stderr?: string }).stderr?.trim() || (e instanceof Error ? e.message : String(e));
    throw new Error(`ip failed: ${detail}`);
  }
}

/** Throws a clear error unless network namespaces can be created here. */
export async function checkNetns(): Promise<void> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) throw new Error('the partition scenario needs Linux and root (ip netns)');
  await exec('ip', ['netns', 'list']).catch((e: unknown) => {
    throw new Error(`ip netns is unavailable (iproute2 missing?): ${e instanceof Error ? e.message : String(e)}`);
  });
}

/**
 * Deletes `links` of this namespace, then `namespaces`. A namespace's
 * links go with it only once the kernel has freed it, which can take long:
 * the links here are deleted explicitly (each takes its peer along).
 */
async function removeAll(namespaces: readonly string[], links: readonly string[]): Promise<void> {
  for (const name of links) await exec('ip', ['link', 'del', name]).catch(() => undefined);
  for (const name of namespaces) await exec('ip', ['netns', 'del', name]).catch(() => undefined);
}

/** Deletes the namespaces and links left by chaos runs whose process is gone. */
export async function removeStale(): Promise<void> {
  const stale = (pid: number): boolean => Number.isInteger(pid) && pid !== process.pid && !isAlive(pid);
  const namespaces = (await exec('ip', ['netns', 'list'])).stdout.split('\n').map((line) => line.split(' ')[0] ?? '')
    .filter((name) => stale(Number(new RegExp(`^${NS_PREFIX}(\\d+)-`).exec(name)?.[1])));
  const links = (await exec('ip', ['-o', 'link', 'show'])).stdout.split('\n').map((line) => line.split(': ')[1]?.split('@')[0] ?? '')
    .filter((name) => stale(parseInt(new RegExp(`^${LINK_PREFIX}([0-9a-z]+)-`).exec(name)?.[1] ?? '', 36)));
  await removeAll(namespaces, links);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Builds the network for sides of `sizes[0]` and `sizes[1]` servers. */
export async function createTopology(sizes: readonly [number, number]): Promise<Topology> {
  const total = sizes[0] + sizes[1];
  if (total > 60) throw new Error('at most 60 servers');
  const tag = `${NS_PREFIX}${process.pid}-`;
  const link = `${LINK_PREFIX}${process.pid.toString(36)}-`;
  const net = `10.${100 + (process.pid % 100)}`;
  const hub = `${tag}hub`;
  const namespaces = [hub, ...Array.from({ length: total }, (_, i) => `${tag}s${i + 1}`)];
  const script = [
    `ip netns add ${hub}`,
    `ip -n ${hub} link set lo up`,
    ...['a', 'b'].map((side) => `ip -n ${hub} link add br-${side} type bridge forward_delay 0 && ip -n ${hub} link set br-${side} up`),
    `ip -n ${hub} link add ta type veth peer name tb`,
    `ip -n ${hub} link set ta master br-a && ip -n ${hub} link set tb master br-b`,
    `ip -n ${hub} link set ta up && ip -n ${hub} link set tb up`,
    `ip link add ${link}st type veth peer name st netns ${hub}`,
    `ip addr add ${net}.0.254/24 dev ${link}st && ip link set ${link}st up`,
    `ip -n ${hub} link set st master br-a && ip -n ${hub} link set st up`,
  ];
  for (let i = 0; i < total; i++) {
    const ns = namespaces[i + 1] as string;
    script.push(
      `ip netns add ${ns}`,
      `ip -n ${ns} link set lo up`,
      `ip -n ${hub} link add p${i} type veth peer name eth0 netns ${ns}`,
      `ip -n ${hub} link set p${i} master br-${i < sizes[0] ? 'a' : 'b'} && ip -n ${hub} link set p${i} up`,
      `ip -n ${ns} addr add ${net}.0.${11 + i}/24 dev eth0 && ip -n ${ns} link set eth0 up`,
      `ip link add ${link}m${i} type veth peer name mgmt netns ${ns}`,
      `ip addr add ${net}.1.${4 * i + 1}/30 dev ${link}m${i} && ip link set ${link}m${i} up`,
      `ip -n ${ns} addr add ${net}.1.${4 * i + 2}/30 dev mgmt && ip -n ${ns} link set mgmt up`,
    );
  }
  const rootLinks = [`${link}st`, ...Array.from({ length: total }, (_, i) => `${link}m${i}`)];
  let destroyed = false;
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    await removeAll(namespaces, rootLinks);
  };
  try {
    await run(script);
  } catch (e) {
    await destroy();
    throw e;
  }
  return {
    storeHost: `${net}.0.254`,
    place: (i) => ({
      baseUrl: `http://${net}.0.${11 + i}:${PORT}/`,
      adminUrl: `http://${net}.1.${4 * i + 2}:${PORT}/`,
      host: '0.0.0.0',
      port: PORT,
      netns: namespaces[i + 1] as string,
    }),
    partition: () => run([`ip -n ${hub} link set ta down`]),
    heal: () => run([`ip -n ${hub} link set ta up`]),
    destroy,
  };
}
