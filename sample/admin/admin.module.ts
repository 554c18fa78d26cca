import { Module } from '@nestjs/common';
import { SessionRevocation } from '../session-revocation.js';
import { UsersModule } from '../users/users.module.js';
import { AdminController } from './admin.controller.js';
import { RolesGuard } from './roles.guard.js';

@Module({
  imports: [UsersModule, SessionRevocation],
  controllers: [AdminController],
  providers: [RolesGuard],
})
export class AdminModule {}
