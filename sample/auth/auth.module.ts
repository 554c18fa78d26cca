import { Module } from '@nestjs/common';
import { SessionRevocation } from '../session-revocation.js';
import { UsersModule } from '../users/users.module.js';
import { AuthRateLimiter } from './auth-rate-limit.guard.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';

@Module({
  imports: [UsersModule, SessionRevocation],
  controllers: [AuthController],
  // One limiter for the auth routes of every module (PATCH /me too): one budget per IP.
  providers: [AuthService, AuthRateLimiter],
  exports: [AuthService, AuthRateLimiter],
})
export class AuthModule {}
