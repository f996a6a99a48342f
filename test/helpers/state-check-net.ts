/**
 * The network of `npm run check:state`: chaos-netns.ts's namespaces with
 * every server on one side (one bridge), plus an nftables table in each
 * server's namespace whose set `cut` holds the data addresses it may not
 * exchange packets with (dropped silently both ways, as a real partition
 * does: connections time out rather than fail at once). Management links,
 * which this process uses to drive and observe the servers, and the
 * master-list store's address are never cut. Needs root, iproute2 and nft.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ServerPlace } from './chaos-fleet.js';
import { checkNetns, createTopology, removeStale } from './chaos-netns.js';

const exec = promisify(execFile);
/** The namespaces chaos-netns.ts names after the pid of the process that made them. */
const NS_PATTERN = /^cshz-(\d+)-/;

/** A network of `size` servers that can be split at will. */
export interface StateNetwork {
  readonly storeHost: string;
  readonly places: readonly ServerPlace[];
  /**
   * Cuts every pair of servers (indexes) in different groups; servers in no
   * group (a bridge) keep reaching everyone. Replaces any previous cut.
   */
  split(groups: readonly (readonly number[])[]): Promise<void>;
  /** Removes every cut. */
  heal(): Promise<void>;
  /** Deletes the namespaces. Idempotent. */
  destroy(): Promise<void>;
}

async function run(args: readonly string[], input?: string): Promise<void> {
  try {
    const child = exec(args[0] as string, args.slice(1), { timeout: 20_000 });
    if (input !== undefined) child.child.stdin?.end(input);
    await child;
  } catch (e) {
    const detail = (e as { stderr?: string }).stderr?.trim() || (e instanceof Error ? e.message : String(e));
    throw new Error(`${args.slice(0, 5).join(' ')} failed: ${detail}`);
  }
}

/** Throws a clear error unless namespaces and nft are usable here. */
export async function checkPrerequisites(): Promise<void> {
  await checkNetns();
  await exec('nft', ['--version']).catch((e: unknown) => {
    throw new Error(`nft is unavailable (install nftables): ${e instanceof Error ? e.message : String(e)}`);
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what a crashed run left: first the processes still running in
 * namespaces whose creator is gone (deleting a namespace does not stop
 * them), then the namespaces and links themselves.
 */
export async function removeStaleNetworks(): Promise<void> {
  const listed = (await exec('ip', ['netns', 'list'])).stdout.split('\n').map((line) => line.split(' ')[0] ?? '');
  for (const ns of listed) {
    const owner = Number(NS_PATTERN.exec(ns)?.[1]);
    if (!Number.isInteger(owner) || owner === process.pid || isAlive(owner)) continue;
    const pids = (await exec('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }))).stdout.split('\n').map(Number).filter((p) => p > 0);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
  }
  await removeStale();
}

/** Builds the namespaces of `size` servers, each with an empty cut. */
export async function createStateNetwork(size: number): Promise<StateNetwork> {
  const topology = await createTopology([size, 0]);
  const places = Array.from({ length: size }, (_, i) => topology.place(i));
  const addressOf = (i: number): string => new URL(places[i]?.baseUrl ?? '').hostname;
  const nft = (i: number, script: string): Promise<void> => run(['ip', 'netns', 'exec', places[i]?.netns ?? '', 'nft', '-f', '-'], script);
  try {
    await Promise.all(places.map((_, i) => nft(i, [
      'table inet cshzstate {',
      '  set cut { type ipv4_addr; }',
      '  chain in { type filter hook input priority 0; policy accept; ip saddr @cut drop; }',
      '  chain out { type filter hook output priority 0; policy accept; ip daddr @cut drop; }',
      '}',
    ].join('\n'))));
  } catch (e) {
    await topology.destroy();
    throw e;
  }
  const flushAll = (): Promise<unknown> => Promise.all(places.map((_, i) => nft(i, 'flush set inet cshzstate cut')));
  return {
    storeHost: topology.storeHost,
    places,
    async split(groups) {
      await flushAll();
      const groupOf = (i: number): number => groups.findIndex((g) => g.includes(i));
      await Promise.all(places.map((_, i) => {
        const mine = groupOf(i);
        if (mine < 0) return undefined;
        const others = places.map((__, j) => j).filter((j) => groupOf(j) >= 0 && groupOf(j) !== mine).map(addressOf);
        return others.length === 0 ? undefined : nft(i, `add element inet cshzstate cut { ${others.join(', ')} }`);
      }));
    },
    heal: async () => {
      await flushAll();
    },
    destroy: () => topology.destroy(),
  };
}
