// HashiCorp Serf from Debian's package: `apt-get download serf`, unpacked
// with `dpkg-deb -x` into a cache folder under the system's temporary
// folder (reused while it holds the expected version). Nothing is installed
// and no service is started. Needs the network, so it runs before the
// benchmark enters its namespace.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findExecutable } from './children.mjs';

const exec = promisify(execFile);

/** Cache folder: `<tmp>/clustershazbot-bench-serf/`. */
export const SERF_CACHE = join(tmpdir(), 'clustershazbot-bench-serf');
/** The Debian version the benchmark is specified against. */
const WANTED = /^0\.9\.4[~+-]/;

/**
 * Path of the `serf` binary and the Debian version it came from, downloading
 * and unpacking the package first unless the cache has it.
 * @param {(message: string) => void} log progress messages
 * @returns {Promise<{ binary: string, version: string }>}
 */
export async function ensureSerf(log) {
  const root = join(SERF_CACHE, 'root');
  const binary = join(root, 'usr', 'bin', 'serf');
  const versionFile = join(SERF_CACHE, 'version');
  if (existsSync(binary) && existsSync(versionFile)) {
    const version = (await readFile(versionFile, 'utf8')).trim();
    if (WANTED.test(version)) {
      await exec(binary, ['version'], { timeout: 10_000 });
      log(`serf ${version} from the cache ${root}`);
      return { binary, version };
    }
  }
  for (const tool of ['apt-get', 'dpkg-deb']) {
    if (findExecutable(tool) === undefined) throw new Error(`${tool} not found: Serf comes from Debian's package (apt-get download serf)`);
  }
  await mkdir(SERF_CACHE, { recursive: true });
  const work = await mkdtemp(join(SERF_CACHE, 'download-'));
  try {
    log('downloading Debian\'s serf package (apt-get download serf)');
    const download = () => exec('apt-get', ['download', 'serf'], { cwd: work, timeout: 300_000 });
    await download().catch(async (e) => {
      // A fresh machine may have no package lists yet: refresh them once.
      log(`apt-get download serf failed (${e.stderr?.trim() || e.message}); running apt-get update and trying again`);
      await exec('apt-get', ['update', '-qq'], { timeout: 300_000 });
      await download();
    }).catch((e) => {
      throw new Error(`apt-get download serf failed (is the network up?): ${e.stderr?.trim() || e.message}`);
    });
    const deb = (await readdir(work)).find((name) => /^serf_.*\.deb$/.test(name));
    if (deb === undefined) throw new Error('apt-get download serf produced no serf_*.deb');
    const version = decodeURIComponent(deb.replace(/^serf_/, '').replace(/_[^_]+\.deb$/, ''));
    if (!WANTED.test(version)) throw new Error(`apt offers serf ${version}, the benchmark expects 0.9.4`);
    const unpacked = join(work, 'root');
    await exec('dpkg-deb', ['-x', join(work, deb), unpacked], { timeout: 120_000 });
    await exec(join(unpacked, 'usr', 'bin', 'serf'), ['version'], { timeout: 10_000 });
    await rm(root, { recursive: true, force: true });
    await rename(unpacked, root);
    await writeFile(versionFile, `${version}\n`);
    log(`serf ${version} unpacked into ${root}`);
    return { binary, version };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
