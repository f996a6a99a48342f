// One server of the chaos scenarios (`npm run chaos`, test/chaos.test.ts):
// the default instance behind node:http, configured by SHAZBOT_* variables,
// listening on HOST:PORT (the demo server is bound to 127.0.0.1; inside a
// network namespace the server must listen on the namespace's addresses).
// Every membership event is printed as one line
// `chaos-event {"at":<ms since epoch>,"event":…,"baseUrl":…,"reason":…}`
// so the scenarios see each verdict the moment it is reached, not only when
// they happen to poll. Built code only: run `npm run build` first.
import { createServer } from 'node:http';
import { shazbotOn, shazbotShutDown, shazbotStart } from 'clustershazbot';
import { createRequestHandler } from 'clustershazbot/node';

for (const event of ['server:up', 'server:suspect', 'server:down']) {
  shazbotOn(event, (entry, reason) => {
    console.log(`chaos-event ${JSON.stringify({ at: Date.now(), event, baseUrl: entry.baseUrl, reason })}`);
  });
}

const routes = createRequestHandler();
const server = createServer((req, res) => {
  routes(req, res).then(
    (handled) => {
      if (!handled) res.writeHead(404).end();
    },
    () => res.writeHead(500).end(),
  );
});

server.listen(Number(process.env.PORT), process.env.HOST, () => {
  shazbotStart().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
});

process.once('SIGTERM', () => {
  void shazbotShutDown().finally(() => process.exit(0));
});
