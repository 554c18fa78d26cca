import { Module } from '@nestjs/common';
import { SessionRevocation } from '../session-revocation.js';
import { SessionsController } from './sessions.controller.js';

@Module({
  imports: [SessionRevocation],
  controllers: [SessionsController],
})
export class SessionsModule {}
