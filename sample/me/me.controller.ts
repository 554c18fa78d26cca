import { Body, Controller, Delete, Get, Header, HttpCode, HttpStatus, NotFoundException, Patch, Res } from '@nestjs/common';
import type { Response } from 'express';
import {
  CurrentSession,
  RequireFreshSession,
  secureLogoutHeaders,
  SessionService,
  type IssuedTokens,
  type SessionClientInfo,
  type SessionContext,
} from '../../lib/index.js';
import { AUTH_COOKIES, LEGACY_AUTH_COOKIES } from '../auth/auth-cookies.js';
import { AuthRateLimit } from '../auth/auth-rate-limit.guard.js';
import { AuthService } from '../auth/auth.service.js';
import { ClientInfo } from '../common/client-info.decorator.js';
import { toPublicUser, UsersService, type PublicUser } from '../users/users.service.js';
import { UpdateMeDto } from './dto/update-me.dto.js';

@Controller('me')
export class MeController {
  constructor(
    private readonly users: UsersService,
    private readonly auth: AuthService,
    private readonly sessions: SessionService,
  ) {}

  @Get()
  async me(@CurrentSession() session: SessionContext): Promise<PublicUser> {
    const user = await this.users.findById(Number(session.userId));
    if (!user) throw new NotFoundException('User not found');
    return toPublicUser(user);
  }

  /**
   * Changes the email (re-authenticated with the current password: 403 when wrong, 409 when
   * the email is taken). Email is a `@RevokesSessions()` column, so the change ends every
   * other session AND rotates the token the caller's access token was bound to: the answer
   * therefore carries new tokens for this device next to the user,
   * `{ id, email, accessToken, refreshToken, sessionId, expiresIn }`.
   */
  @AuthRateLimit()
  @Patch()
  @Header('Cache-Control', 'no-store')
  update(@CurrentSession() session: SessionContext, @Body() dto: UpdateMeDto, @ClientInfo() client: SessionClientInfo): Promise<PublicUser & IssuedTokens> {
    return this.auth.changeEmail(session, dto.email, dto.currentPassword, client);
  }

  /**
   * Deletes the account and ends all its sessions: 204, and this device's cookies are cleared
   * as at logout. Needs a session fresh within 5 minutes (a login, or `POST /auth/reauthenticate`);
   * an older one gets 401 with `WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age=300`.
   */
  @RequireFreshSession('5m')
  @Delete()
  @HttpCode(HttpStatus.NO_CONTENT)
  async remove(@CurrentSession() session: SessionContext, @Res({ passthrough: true }) response: Response): Promise<void> {
    await this.auth.deleteAccount(session);
    response.set(secureLogoutHeaders([...AUTH_COOKIES, ...LEGACY_AUTH_COOKIES]));
  }

  /**
   * The account's recent security activity, newest first, at most 50:
   * `[{type, at, ip, userAgent, sessionId, current, reason}]` (`current`: this device's session).
   * Types: `login`, `login-failed`, `logout`, `revoke` (a device signed out from the list),
   * `invalidate` (reason `password-change`, `email-change`, `logout-others`, `logout-all`, ...),
   * `session-limit` (signed out by a newer sign-in past MAX_SESSIONS_PER_USER), `reauthenticate`,
   * `reuse-detected`, `block`, `unblock`.
   */
  @Get('activity')
  @Header('Cache-Control', 'no-store')
  async activity(@CurrentSession() session: SessionContext) {
    const entries = await this.sessions.activity(session.userId, { limit: 50 });
    return entries.map(({ type, at, ip, userAgent, sessionId, reason }) => ({ type, at, ip, userAgent, sessionId, current: sessionId === session.sessionId, reason }));
  }
}
