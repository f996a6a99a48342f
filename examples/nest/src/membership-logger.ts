import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { shazbotOn } from 'clustershazbot';

/** Logs membership changes. shazbotOn subscribes even before the module has started the instance. */
@Injectable()
export class MembershipLogger implements OnModuleInit, OnModuleDestroy {
  #unsubscribe: Array<() => void> = [];

  onModuleInit(): void {
    this.#unsubscribe = [
      shazbotOn('server:up', (server) => console.log(`server up: ${server.baseUrl}`)),
      shazbotOn('server:suspect', (server) => console.log(`server suspect: ${server.baseUrl}`)),
      shazbotOn('server:down', (server, reason) => console.log(`server down: ${server.baseUrl} (${reason})`)),
    ];
  }

  onModuleDestroy(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
  }
}
