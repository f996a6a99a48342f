/**
 * A deliberately broken fuzz target, to prove the fuzzer notices each kind
 * of failure. Like the demo server (node:http, the default instance, the
 * routes with the dashboard on), plus the fault named by FUZZ_FAULT:
 *   crash  dies on a request whose URL contains `%00`
 *   log    logs an error to stderr on such a request, and lives on
 *   accept answers 200 to unknown paths under /clustershazbot/
 *   state  takes itself offline on the first control request (a real state change)
 *   leak   echoes a wrong Authorization header in its own 401 answers on info
 */
import { createServer } from 'node:http';
import { createRequestHandler } from '../../dist/esm/adapters/node.js';
import { shazbotControlRequest, shazbotShutDown, shazbotStart } from '../../dist/esm/default-instance.js';

const fault = process.env['FUZZ_FAULT'];
const handle = createRequestHandler({ dashboard: true });
let tookOffline = false;

const ROUTES = ['gossip', 'list', 'control', 'health', 'info', 'dashboard'];

const server = createServer((req, res) => {
  const url = req.url ?? '';
  const route = url.split('?')[0].replace(/^\/clustershazbot\//, '');
  const answer = (status, body) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  if (fault === 'crash' && url.includes('%00')) setImmediate(() => {
    throw new Error('fault injected: crashed on %00');
  });
  if (fault === 'log' && url.includes('%00')) console.error('Error: fault injected: logged on %00');
  if (fault === 'accept' && !ROUTES.includes(route)) return answer(200, '{"accepted":true}');
  const auth = req.headers.authorization;
  if (fault === 'leak' && route === 'info' && auth !== undefined && auth !== `Bearer ${process.env['SHAZBOT_CONTROL_SECRET']}`) {
    return answer(401, JSON.stringify({ error: `bad authorization: ${auth}`, code: 'UNAUTHORIZED' }));
  }
  if (fault === 'state' && !tookOffline && route === 'control') {
    tookOffline = true;
    void shazbotControlRequest(`Bearer ${process.env['SHAZBOT_CONTROL_SECRET']}`, { message: 'control', online: false });
  }
  void handle(req, res);
});

server.listen(Number(process.env['PORT']), '127.0.0.1', () => {
  shazbotStart().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
});
process.stdin.on('end', () => void shazbotShutDown().finally(() => process.exit(0)));
process.stdin.resume();
