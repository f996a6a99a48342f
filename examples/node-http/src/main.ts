// clustershazbot on a plain node:http server. The cluster is configured by the
// SHAZBOT_* variables (see README.md); PORT and HOST say where to listen.
import { createServer } from 'node:http';
import { shazbotMap, shazbotOn, shazbotOnlineServers, shazbotShutDown, shazbotStart, shazbotStateReady } from 'clustershazbot';
import { createRequestHandler } from 'clustershazbot/node';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';

// Serves /clustershazbot/{gossip,list,control,health,info,dashboard}; resolves false for any other path.
const clustershazbot = createRequestHandler({ dashboard: true });

// Replicated state: a map every instance holds (docs/state.md). Reads are local; writes spread to every instance.
const notes = shazbotMap<string>('notes', { maxValueBytes: 4_096 });

shazbotOn('server:up', (server) => console.log(`server up: ${server.baseUrl}`));
shazbotOn('server:suspect', (server) => console.log(`server suspect: ${server.baseUrl}`));
shazbotOn('server:down', (server, reason) => console.log(`server down: ${server.baseUrl} (${reason})`));

const server = createServer(async (req, res) => {
  if (await clustershazbot(req, res)) return;
  if (req.method === 'GET' && req.url === '/peers') {
    // A query: the servers this one currently sees online (itself included).
    const online = shazbotOnlineServers().map((s) => s.baseUrl);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ online }));
    return;
  }
  const note = /^\/notes\/([\w-]{1,64})$/.exec(req.url ?? '');
  if (note !== null && req.method === 'PUT') {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    try {
      const { version } = await notes.set(note[1]!, text); // every instance holds it within milliseconds
      res.writeHead(204, { etag: `"${version?.t}"` }).end();
    } catch (error) {
      const status = (error as { status?: number }).status ?? 500; // 413 past maxValueBytes, 503 before start
      res.writeHead(status, { 'content-type': 'text/plain' }).end(`${(error as Error).message}\n`);
    }
    return;
  }
  if (note !== null && req.method === 'GET') {
    const text = notes.get(note[1]!); // a local read
    if (text === undefined) res.writeHead(404, { 'content-type': 'text/plain' }).end('no such note\n');
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(text);
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
});

server.listen(port, host, () => {
  console.log(`listening on http://${host}:${port}/`);
  // Join once peers can reach us; a configuration problem is fatal.
  shazbotStart().then(shazbotStateReady).then(() => console.log(`state ready: ${notes.size} notes`)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
});

// Graceful shutdown: tell the peers we leave (at most 5 s), then stop serving.
let stopping = false;
async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: leaving the cluster`);
  await shazbotShutDown();
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
