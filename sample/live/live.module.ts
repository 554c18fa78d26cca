import { Module } from '@nestjs/common';
import { LiveGateway } from './live.gateway.js';

/** The live socket (`/live`); its adapter is installed in app.factory.ts. */
@Module({ providers: [LiveGateway] })
export class LiveModule {}
