/**
 * One server of the demo cluster: a plain node:http server wired to the seed
 * API (shazbotStart and friends), configured entirely by SHAZBOT_* variables
 * (SHAZBOT_STATE_DIR keeps its replicated state across restarts). Run as a
 * child process by run-demo.ts; PORT is the port to listen on. Besides the
 * clustershazbot routes it serves the replicated map `demo` under /demo/kv
 * (see demo-kv.ts).
 */
import { createServer } from 'node:http';
import { getDefaultCluster, shazbotShutDown, shazbotStart } from '../default-instance.js';
import { shazbotMap, shazbotStateReady } from '../default-state.js';
import { createRequestHandler } from '../adapters/node.js';
import { createDemoKvHandler } from './demo-kv.js';

const port = Number(process.env['PORT']);
// The default instance, with the dashboard on (it asks for the control secret).
const handle = createRequestHandler({ dashboard: true });
// A replicated map of the default instance: usable before shazbotStart() (reads see it empty).
const map = shazbotMap('demo');
let sizeWhenReady: number | undefined;
const kv = createDemoKvHandler({
  map,
  ready: () => getDefaultCluster()?.ready() ?? false,
  sizeWhenReady: () => sizeWhenReady,
});

const server = createServer((req, res) => {
  handle(req, res)
    .then(async (handled) => handled || (await kv(req, res)))
    .then((handled) => {
      if (!handled) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('demo app\n');
      }
    })
    .catch(() => {
      if (!res.headersSent) res.writeHead(503);
      res.end();
    });
});

server.listen(port, '127.0.0.1', () => {
  shazbotStart().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
  // shazbotStart() has created the instance: note how many keys the map held when the state became ready.
  shazbotStateReady().then(() => (sizeWhenReady = map.size), () => undefined);
});

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void shazbotShutDown().finally(() => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
// Started by the demo, which holds our stdin open: when it ends, the demo is
// gone (even if it was killed), so leave too. Other runners (tests, chaos)
// start this file with stdin closed and stop it themselves.
if (process.env['DEMO_EXIT_WITH_PARENT'] === '1') {
  process.stdin.on('end', stop);
  process.stdin.resume();
}
