// clustershazbot in a Fastify 5 app. The cluster is configured by the
// SHAZBOT_* variables (see README.md); PORT and HOST say where to listen.
import Fastify from 'fastify';
import { shazbotOn, shazbotOnlineServers, shazbotShutDown, shazbotStart } from 'clustershazbot';
import { clustershazbotPlugin } from 'clustershazbot/fastify';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';

const app = Fastify({ logger: { level: 'warn' } });
await app.register(clustershazbotPlugin, { dashboard: true });

shazbotOn('server:up', (server) => console.log(`server up: ${server.baseUrl}`));
shazbotOn('server:suspect', (server) => console.log(`server suspect: ${server.baseUrl}`));
shazbotOn('server:down', (server, reason) => console.log(`server down: ${server.baseUrl} (${reason})`));

// A query: the servers this one currently sees online (itself included).
app.get('/peers', async () => ({ online: shazbotOnlineServers().map((s) => s.baseUrl) }));

// Graceful shutdown: app.close() first tells the peers we leave (at most 5 s), then closes the server.
app.addHook('preClose', async () => {
  await shazbotShutDown();
});

let stopping = false;
async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: leaving the cluster`);
  await app.close();
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

await app.listen({ port, host });
console.log(`listening on http://${host}:${port}/`);
// Join once peers can reach us; a configuration problem is fatal.
try {
  await shazbotStart();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
