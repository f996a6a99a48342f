import { Module } from '@nestjs/common';
import { ClustershazbotModule } from 'clustershazbot/nest';
import { MembershipLogger } from './membership-logger.js';
import { PeersController } from './peers.controller.js';

@Module({
  // Without `cluster` options, the module drives the default instance from the SHAZBOT_* variables.
  imports: [ClustershazbotModule.forRoot({ dashboard: true })],
  controllers: [PeersController],
  providers: [MembershipLogger],
})
export class AppModule {}
