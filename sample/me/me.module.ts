import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { UsersModule } from '../users/users.module.js';
import { MeController } from './me.controller.js';

@Module({
  imports: [UsersModule, AuthModule],
  controllers: [MeController],
})
export class MeModule {}
