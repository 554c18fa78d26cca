import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { SessionRevocation } from '../session-revocation.js';
import { UsersModule } from '../users/users.module.js';
import { MeController } from './me.controller.js';

@Module({
  imports: [UsersModule, AuthModule, SessionRevocation],
  controllers: [MeController],
})
export class MeModule {}
