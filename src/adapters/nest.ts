/**
 * `clustershazbot/nest`: a NestJS module (Nest 10 to 12 on the Express
 * platform; `@nestjs/common` and `@nestjs/core` are optional peer
 * dependencies). Nest apps on the Fastify platform should register
 * `clustershazbot/fastify`'s plugin on the Fastify instance instead.
 *
 * Every injection uses an explicit `@Inject()` token, so it works without
 * `emitDecoratorMetadata`, compiled to ES modules or to CommonJS.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  All, Controller, Inject, Injectable, Module, Optional, Req, Res,
  type DynamicModule, type InjectionToken, type MiddlewareConsumer, type ModuleMetadata, type NestMiddleware, type NestModule,
  type OnApplicationBootstrap, type OnModuleDestroy, type OptionalFactoryDependency,
} from '@nestjs/common';
import type { ClusterOptions } from '../config.js';
import { getDefaultCluster, shazbotShutDown, shazbotStart } from '../default-instance.js';
import { createCluster, type Cluster, type ClusterDeps } from '../engine/cluster.js';
import { createRequestHandler } from './node.js';
import type { AdapterOptions } from './routes.js';
import { nodeSessionRunner, type NodeSessionRunner } from './state-session.js';

export { SESSION_HEADER } from './state-session.js';

/** Options of {@link ClustershazbotModule}. */
export interface ClustershazbotModuleOptions {
  /**
   * Options of an instance the module creates, starts and shuts down itself.
   * @default none: the module drives the default instance, configured from the `SHAZBOT_*` environment variables
   */
  cluster?: ClusterOptions;
  /** Collaborators of the instance the module creates (ignored without `cluster`). @default the real ones */
  clusterDeps?: ClusterDeps;
  /** Serve the live dashboard at `GET clustershazbot/dashboard` (behind the control secret). @default false */
  dashboard?: boolean;
  /** Largest request body, in bytes; a larger one gets 413. @default 4 MiB */
  maxBodyBytes?: number;
  /**
   * Read-your-writes across instances for every route of the app (see
   * {@link StateSessionsMiddleware}): `true`, or the longest wait of a
   * request for this instance to catch up with its session, in ms.
   * @default false
   */
  sessions?: boolean | { timeoutMs?: number };
}

/** Options of {@link ClustershazbotModule.forRootAsync}. */
export interface ClustershazbotModuleAsyncOptions {
  /** Modules exporting what `useFactory` injects. @default [] */
  imports?: ModuleMetadata['imports'];
  /** Tokens whose values are passed to `useFactory`, in order. @default [] */
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  /** Returns the module's options. */
  useFactory: (...args: never[]) => ClustershazbotModuleOptions | Promise<ClustershazbotModuleOptions>;
  /** Make the module global, so every module can inject {@link CLUSTERSHAZBOT_CLUSTER}. @default false */
  isGlobal?: boolean;
}

/** Injection token of the {@link ClustershazbotService}, whose `cluster` is the served instance. */
export const CLUSTERSHAZBOT_CLUSTER = 'CLUSTERSHAZBOT_CLUSTER';

/** Injection token of the resolved {@link ClustershazbotModuleOptions}. */
export const CLUSTERSHAZBOT_MODULE_OPTIONS = 'CLUSTERSHAZBOT_MODULE_OPTIONS';

/**
 * Owns the instance's lifecycle: starts it when the application bootstraps
 * (before it listens) and shuts it down when the application closes (on
 * `app.close()`, or on SIGTERM/SIGINT with `app.enableShutdownHooks()`).
 * Both are idempotent.
 */
@Injectable()
export class ClustershazbotService implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #own: Cluster | undefined;

  constructor(@Inject(CLUSTERSHAZBOT_MODULE_OPTIONS) options: ClustershazbotModuleOptions) {
    this.#own = options.cluster === undefined ? undefined : createCluster(options.cluster, options.clusterDeps);
  }

  /** The served instance; for the default instance, undefined until the application has bootstrapped. */
  get cluster(): Cluster | undefined {
    return this.#own ?? getDefaultCluster();
  }

  /** Starts the instance (rejects with a ConfigError for bad `SHAZBOT_*` variables, failing the bootstrap). */
  async onApplicationBootstrap(): Promise<void> {
    await (this.#own === undefined ? shazbotStart() : this.#own.start());
  }

  /** Shuts the instance down, within its `shutdownTimeoutMs`. */
  async onModuleDestroy(): Promise<void> {
    await (this.#own === undefined ? shazbotShutDown() : this.#own.shutdown());
  }
}

/**
 * Answers every method on `clustershazbot/:route` (404 for unknown routes,
 * 405 for a wrong method). It reads the raw body itself, up to
 * `maxBodyBytes`, when the app was created with `{ bodyParser: false }`;
 * otherwise it takes the body Nest's JSON parser already read, whose own
 * limit (100 kb by default) applies first: turn that parser off, or raise its
 * limit with `app.useBodyParser('json', { limit })`, for clusters whose
 * lists exceed it. With that parser on, malformed JSON gets its 400 (in
 * Nest's shape) before this controller runs. Every other reply is written
 * here, in the same shape as the other adapters.
 */
@Controller('clustershazbot')
export class ClustershazbotController {
  readonly #options: AdapterOptions;

  constructor(
    @Inject(CLUSTERSHAZBOT_CLUSTER) service: ClustershazbotService,
    @Inject(CLUSTERSHAZBOT_MODULE_OPTIONS) options: ClustershazbotModuleOptions,
  ) {
    this.#options = { cluster: () => service.cluster, dashboard: options.dashboard, maxBodyBytes: options.maxBodyBytes };
  }

  /** Answers one request through the node:http adapter. */
  @All(':route')
  async route(@Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    await this.#serve(req, res, 1);
  }

  /** The same for routes two segments down (`health/ready`); any other such path gets the routes' 404. */
  @All(':route/:sub')
  async nested(@Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    await this.#serve(req, res, 2);
  }

  /** Serves a request whose route is the last `segments` segments of its path. */
  async #serve(req: IncomingMessage, res: ServerResponse, segments: number): Promise<void> {
    // The routes live under the path Nest routed here (a global prefix included), up to the slash before the route.
    const path = (req.url ?? '').split('?')[0] ?? '';
    let cut = path.length;
    for (let i = 0; i < segments; i++) cut = path.lastIndexOf('/', cut - 1);
    await createRequestHandler({ ...this.#options, prefix: path.slice(0, cut + 1) })(req, res);
  }
}

/**
 * Read-your-writes across instances (see docs/state.md), as Nest middleware
 * on the Express platform: a request carrying a `clustershazbot-session`
 * header waits until this instance holds the writes it names (at most the
 * `sessions.timeoutMs` module option, default 2 s) before guards,
 * interceptors and the handler run; the map writes the handler makes join
 * the session, and the response's `clustershazbot-session` header carries
 * its token. `ClustershazbotModule.forRoot({ sessions: true })` applies it
 * to every route; to choose routes, apply it yourself in a module that
 * imports ClustershazbotModule: `consumer.apply(StateSessionsMiddleware).forRoutes(OrdersController)`.
 *
 * Answers by itself: 400 `MALFORMED` for a header that is not a session
 * token, 503 `STALE_READ` (with `retry-after: 1`) when this instance has not
 * caught up in time, 503 `NOT_STARTED` before the instance exists. A bad
 * `timeoutMs` fails the bootstrap with ConfigError.
 */
@Injectable()
export class StateSessionsMiddleware implements NestMiddleware {
  readonly #run: NodeSessionRunner;

  constructor(
    @Inject(CLUSTERSHAZBOT_CLUSTER) service: ClustershazbotService,
    @Inject(CLUSTERSHAZBOT_MODULE_OPTIONS) options: ClustershazbotModuleOptions,
  ) {
    const sessions = options.sessions;
    this.#run = nodeSessionRunner({ cluster: () => service.cluster, ...(typeof sessions === 'object' && { timeoutMs: sessions.timeoutMs }) });
  }

  /** Runs the rest of the request in its session, or answers 400/503. */
  use(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
    this.#run(req, res, () => next()).catch(next);
  }
}

/**
 * The clustershazbot routes, at `clustershazbot/*` under the app's global
 * prefix, plus the instance's lifecycle:
 *
 * ```ts
 * @Module({ imports: [ClustershazbotModule.forRoot({ dashboard: true })] })
 * export class AppModule {}
 * ```
 *
 * Inject `CLUSTERSHAZBOT_CLUSTER` (a {@link ClustershazbotService}) to reach
 * the instance.
 */
@Module({})
export class ClustershazbotModule implements NestModule {
  constructor(@Optional() @Inject(CLUSTERSHAZBOT_MODULE_OPTIONS) private readonly options?: ClustershazbotModuleOptions) {}

  /** Applies {@link StateSessionsMiddleware} to every route with the `sessions` option. */
  configure(consumer: MiddlewareConsumer): void {
    const sessions = this.options?.sessions;
    if (sessions !== undefined && sessions !== false) consumer.apply(StateSessionsMiddleware).forRoutes('*');
  }

  /** The module with fixed options; `isGlobal` makes its exports visible to every module. */
  static forRoot(options: ClustershazbotModuleOptions & { isGlobal?: boolean } = {}): DynamicModule {
    return moduleWith({ provide: CLUSTERSHAZBOT_MODULE_OPTIONS, useValue: options }, [], options.isGlobal);
  }

  /** The module with options from a factory that may inject other providers (a config service, say). */
  static forRootAsync(options: ClustershazbotModuleAsyncOptions): DynamicModule {
    const provider = { provide: CLUSTERSHAZBOT_MODULE_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] };
    return moduleWith(provider, options.imports ?? [], options.isGlobal);
  }
}

function moduleWith(
  optionsProvider: NonNullable<ModuleMetadata['providers']>[number],
  imports: NonNullable<ModuleMetadata['imports']>,
  isGlobal = false,
): DynamicModule {
  return {
    module: ClustershazbotModule,
    global: isGlobal,
    imports,
    controllers: [ClustershazbotController],
    providers: [optionsProvider, ClustershazbotService, { provide: CLUSTERSHAZBOT_CLUSTER, useExisting: ClustershazbotService }],
    // The options too, for a StateSessionsMiddleware applied in an importing module.
    exports: [ClustershazbotService, CLUSTERSHAZBOT_CLUSTER, CLUSTERSHAZBOT_MODULE_OPTIONS],
  };
}
