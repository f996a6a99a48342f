// clustershazbot in a NestJS 12 app (ES modules). The cluster is configured by
// the SHAZBOT_* variables (see README.md); PORT and HOST say where to listen.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module.js';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';

const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger: ['error', 'warn', 'log'] });
// Nest's JSON parser reads bodies before the module does: 100 kb by default, too small for large clusters.
app.useBodyParser('json', { limit: '4mb' });

// Graceful shutdown: app.close() runs the module's onModuleDestroy, which tells
// the peers we leave (at most 5 s). (app.enableShutdownHooks() would do the same,
// then re-raise the signal instead of exiting with 0.)
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

// The module joins the cluster while the app bootstraps, before it listens.
await app.listen(port, host);
console.log(`listening on http://${host}:${port}/`);
