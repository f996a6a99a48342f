import { Controller, Get, Inject } from '@nestjs/common';
import { CLUSTERSHAZBOT_CLUSTER, type ClustershazbotService } from 'clustershazbot/nest';

@Controller('peers')
export class PeersController {
  constructor(@Inject(CLUSTERSHAZBOT_CLUSTER) private readonly clustershazbot: ClustershazbotService) {}

  /** A query: the servers this one currently sees online (itself included). */
  @Get()
  online(): { online: string[] } {
    return { online: (this.clustershazbot.cluster?.online() ?? []).map((s) => s.baseUrl) };
  }
}
