// clustershazbot in an Express 5 app, with Prometheus metrics. The cluster is
// configured by the SHAZBOT_* variables (see README.md); PORT and HOST say where to listen.
import express from 'express';
import { Registry } from 'prom-client';
import { getDefaultCluster, shazbotOn, shazbotOnlineServers, shazbotShutDown, shazbotStart } from 'clustershazbot';
import { clustershazbotRouter } from 'clustershazbot/express';
import { registerMetrics } from 'clustershazbot/metrics';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const registry = new Registry();

const app = express();
// Before any body parser: the router reads its own bodies, up to 4 MiB.
app.use(clustershazbotRouter({ dashboard: true }));
app.use(express.json());

shazbotOn('server:up', (server) => console.log(`server up: ${server.baseUrl}`));
shazbotOn('server:suspect', (server) => console.log(`server suspect: ${server.baseUrl}`));
shazbotOn('server:down', (server, reason) => console.log(`server down: ${server.baseUrl} (${reason})`));

// A query: the servers this one currently sees online (itself included).
app.get('/peers', (_req, res) => {
  res.json({ online: shazbotOnlineServers().map((s) => s.baseUrl) });
});

app.get('/metrics', async (_req, res) => {
  res.type(registry.contentType).send(await registry.metrics());
});

const server = app.listen(port, host, () => {
  console.log(`listening on http://${host}:${port}/`);
  // Join once peers can reach us; a configuration problem is fatal.
  shazbotStart().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
  // shazbotStart() has created the default instance: export its metrics.
  const cluster = getDefaultCluster();
  if (cluster !== undefined) registerMetrics(cluster, { registry });
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
