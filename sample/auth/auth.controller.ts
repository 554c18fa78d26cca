import { Body, Controller, Header, HttpCode, HttpStatus, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  CurrentSession,
  extractBearerToken,
  readCookie,
  secureLogoutHeaders,
  SkipSessionCheck,
  type IssuedTokens,
  type SessionClientInfo,
  type SessionContext,
} from '../../lib/index.js';
import { ClientInfo } from '../common/client-info.decorator.js';
import type { PublicUser } from '../users/users.service.js';
import { isCsrfVerified } from '../web/csrf.middleware.js';
import { AuthRateLimit } from './auth-rate-limit.guard.js';
import { ACCESS_COOKIE, AUTH_COOKIES, LEGACY_AUTH_COOKIES, readUniqueCookie, REFRESH_COOKIE } from './auth-cookies.js';
import { AuthService } from './auth.service.js';
import { ChangePasswordDto } from './dto/change-password.dto.js';
import { LoginDto, RegisterDto } from './dto/credentials.dto.js';
import { LogoutAllDto } from './dto/logout-all.dto.js';
import { ReauthenticateDto } from './dto/reauthenticate.dto.js';
import { RefreshDto } from './dto/refresh.dto.js';

@Controller('auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @SkipSessionCheck()
  @AuthRateLimit()
  @Post('register')
  register(@Body() dto: RegisterDto): Promise<PublicUser> {
    return this.auth.register(dto);
  }

  @SkipSessionCheck()
  @AuthRateLimit()
  @Post('login')
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  login(@Body() dto: LoginDto, @ClientInfo() client: SessionClientInfo): Promise<IssuedTokens> {
    return this.auth.login(dto, client);
  }

  @SkipSessionCheck()
  @AuthRateLimit()
  @Post('refresh')
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  refresh(@Body() dto: RefreshDto, @ClientInfo() client: SessionClientInfo): Promise<IssuedTokens> {
    return this.auth.refresh(dto.refreshToken, client);
  }

  /**
   * POST only (a GET cannot end a session: no route, 404). Always 204, with or without a
   * valid token: the refresh token in the body or the access token in `Authorization`
   * (expired ones too) names the session to end. The body is read leniently on purpose: a
   * client logging out must never be refused, so there is no DTO here to reject it.
   * The browser flow's cookies name the session only when the request passed the CSRF check
   * (a cross-site page cannot sign anyone out); they are cleared either way, and so are the
   * unprefixed names of earlier versions (`access_token`, ...) a browser may still hold.
   */
  @SkipSessionCheck()
  @Post('logout')
  @HttpCode(HttpStatus.NO_CONTENT)
  async logout(
    @Body() body: unknown,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
    @ClientInfo() client: SessionClientInfo,
  ): Promise<void> {
    response.set(secureLogoutHeaders([...AUTH_COOKIES, ...LEGACY_AUTH_COOKIES]));
    const refreshToken = body && typeof body === 'object' ? (body as { refreshToken?: unknown }).refreshToken : undefined;
    const cookies = isCsrfVerified(request);
    await this.auth.logout(
      {
        refreshToken: typeof refreshToken === 'string' ? refreshToken : cookies ? readUniqueCookie(request, REFRESH_COOKIE) : undefined,
        accessToken: extractBearerToken(request) ?? (cookies ? readCookie(request, ACCESS_COOKIE) : undefined),
      },
      client,
    );
  }

  @Post('logout-all')
  @HttpCode(HttpStatus.NO_CONTENT)
  async logoutAll(@CurrentSession() session: SessionContext, @Body() dto: LogoutAllDto): Promise<void> {
    await this.auth.logoutAll(session, dto.keepCurrent === true);
  }

  /** 200 with new tokens for this device; every other session ends. A wrong current password is 403. */
  @AuthRateLimit()
  @Post('password')
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  changePassword(@CurrentSession() session: SessionContext, @Body() dto: ChangePasswordDto, @ClientInfo() client: SessionClientInfo): Promise<IssuedTokens> {
    return this.auth.changePassword(session, dto, client);
  }

  /**
   * 200 `{authTime}`: the password was right, this session is fresh (for `DELETE /me`, five
   * minutes). 401 on a wrong password; 429 with `Retry-After` while the account must wait.
   * The tokens stay as they are: the session record holds the new time, and the next refresh
   * puts it into the access token (`auth_time`).
   */
  @AuthRateLimit()
  @Post('reauthenticate')
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  reauthenticate(@CurrentSession() session: SessionContext, @Body() dto: ReauthenticateDto, @ClientInfo() client: SessionClientInfo): Promise<{ authTime: string }> {
    return this.auth.reauthenticate(session, dto.password, client);
  }
}
