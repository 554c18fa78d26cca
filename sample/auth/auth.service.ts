import { ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import {
  LoginAttempts,
  SessionService,
  type IssuedTokens,
  type LogoutTokens,
  type SessionClientInfo,
  type SessionContext,
} from '../../lib/index.js';
import { toPublicUser, UsersService, type PublicUser } from '../users/users.service.js';
import type { User } from '../users/user.entity.js';
import type { ChangePasswordDto } from './dto/change-password.dto.js';
import type { LoginDto, RegisterDto } from './dto/credentials.dto.js';

/** A wrong current password on a re-authenticated change: 403 (the caller is authenticated, the proof is wrong). */
const wrongPassword = () => new ForbiddenException('Current password is incorrect');

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionService,
    private readonly attempts: LoginAttempts,
  ) {}

  async register(dto: RegisterDto): Promise<PublicUser> {
    return toPublicUser(await this.users.create(dto.email, dto.password));
  }

  /**
   * Unknown email, wrong password and blocked account all answer the same generic 401
   * (`sessions.issue` refuses blocked users with a plain UnauthorizedException too). Under the
   * library's per-account back-off: 429 with `Retry-After` while the account must wait; a
   * failure is recorded (and shown in the account's activity when it exists).
   */
  async login(dto: LoginDto, client: SessionClientInfo): Promise<IssuedTokens> {
    const attempt = { account: dto.email, ...client };
    await this.attempts.assertAllowed(attempt);
    const user = await this.users.verifyCredentials(dto.email, dto.password);
    if (!user) {
      await this.attempts.recordFailure({ ...attempt, userId: (await this.users.findByEmail(dto.email))?.id });
      throw new UnauthorizedException();
    }
    await this.attempts.recordSuccess(attempt);
    return this.sessions.issue(user, client);
  }

  refresh(refreshToken: string, client: SessionClientInfo): Promise<IssuedTokens> {
    return this.sessions.refresh(refreshToken, client);
  }

  async logout(tokens: LogoutTokens, client: SessionClientInfo): Promise<void> {
    await this.sessions.logout(tokens, client);
  }

  async logoutAll(session: SessionContext, keepCurrent: boolean): Promise<void> {
    if (keepCurrent) {
      await this.sessions.invalidateSessions(session.userId, { except: session.sessionId, reason: 'logout-others' });
    } else {
      await this.sessions.invalidateSessions(session.userId, { reason: 'logout-all' });
    }
  }

  /**
   * Password change: saving the new hash rotates the user's session token (library hook), so
   * every access token issued before is refused; the other sessions are ended for good and
   * this device gets fresh tokens.
   */
  async changePassword(session: SessionContext, dto: ChangePasswordDto, client: SessionClientInfo = {}): Promise<IssuedTokens> {
    const user = await this.checkPassword(session, dto.currentPassword, client, wrongPassword);
    const saved = await this.users.setPassword(user, dto.newPassword);
    return this.keepOnlyThisSession(session, 'password-change', saved);
  }

  /** Email change: same as a password change (email is a `@RevokesSessions()` column). */
  async changeEmail(session: SessionContext, email: string, currentPassword: string, client: SessionClientInfo = {}): Promise<PublicUser & IssuedTokens> {
    const user = await this.checkPassword(session, currentPassword, client, wrongPassword);
    const saved = await this.users.setEmail(user, email);
    const tokens = await this.keepOnlyThisSession(session, 'email-change', saved);
    return { ...toPublicUser(saved), ...tokens };
  }

  /**
   * `POST /auth/reauthenticate`: the password proves the user is still at the keyboard, so the
   * session is fresh for five minutes of sensitive operations (`DELETE /me`). A wrong password
   * is 401, throttled like a login.
   */
  async reauthenticate(session: SessionContext, password: string, client: SessionClientInfo): Promise<{ authTime: string }> {
    const user = await this.checkPassword(session, password, client, () => new UnauthorizedException('Password is incorrect'));
    const { authTime } = await this.sessions.reauthenticate(session.sessionId, user);
    return { authTime: authTime.toISOString() };
  }

  /** `DELETE /me`: every session of the account ends (on every device, at once), then the account is deleted. */
  async deleteAccount(session: SessionContext): Promise<void> {
    await this.sessions.invalidateSessions(session.userId, { reason: 'account-deleted' });
    await this.users.delete(Number(session.userId));
  }

  /** The caller's user when `password` is theirs, under the account's back-off (429 while it must wait); `wrong()` otherwise. */
  private async checkPassword(session: SessionContext, password: string, client: SessionClientInfo, wrong: () => Error): Promise<User> {
    const user = await this.users.findById(Number(session.userId));
    if (!user) throw new UnauthorizedException();
    const attempt = { account: user.email, userId: user.id, ...client };
    if (!(await this.attempts.attempt(attempt, () => this.users.verifyPassword(user, password)))) throw wrong();
    return user;
  }

  /** Ends the other sessions and renews this one; `saved` is the entity just saved, so a change made meanwhile by someone else is not adopted. */
  private async keepOnlyThisSession(session: SessionContext, reason: string, saved: User): Promise<IssuedTokens> {
    await this.sessions.invalidateSessions(session.userId, { except: session.sessionId, reason });
    return this.sessions.renew(saved, session.sessionId);
  }
}
