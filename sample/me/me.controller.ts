import { Body, Controller, Get, Header, NotFoundException, Patch } from '@nestjs/common';
import { CurrentSession, type IssuedTokens, type SessionContext } from '../../lib/index.js';
import { AuthRateLimit } from '../auth/auth-rate-limit.guard.js';
import { AuthService } from '../auth/auth.service.js';
import { toPublicUser, UsersService, type PublicUser } from '../users/users.service.js';
import { UpdateMeDto } from './dto/update-me.dto.js';

@Controller('me')
export class MeController {
  constructor(
    private readonly users: UsersService,
    private readonly auth: AuthService,
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
  update(@CurrentSession() session: SessionContext, @Body() dto: UpdateMeDto): Promise<PublicUser & IssuedTokens> {
    return this.auth.changeEmail(session, dto.email, dto.currentPassword);
  }
}
