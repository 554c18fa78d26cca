import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Request, Response } from 'express';
import { map, type Observable } from 'rxjs';
import { readCookie } from '../../lib/index.js';
import { AUTH_MODE_HEADER, authCookieHeaders, CSRF_COOKIE, newCsrfToken } from '../auth/auth-cookies.js';
import { isCsrfVerified } from './csrf.middleware.js';

/** True when the request asked for the browser flow (`X-Auth-Mode: cookie`). */
export function wantsCookies(request: Request): boolean {
  const mode = request.headers[AUTH_MODE_HEADER];
  return typeof mode === 'string' && mode.trim().toLowerCase() === 'cookie';
}

type TokenBody = { accessToken: string; refreshToken: string; expiresIn: number } & Record<string, unknown>;

const carriesTokens = (body: unknown): body is TokenBody =>
  !!body &&
  typeof body === 'object' &&
  typeof (body as TokenBody).accessToken === 'string' &&
  typeof (body as TokenBody).refreshToken === 'string' &&
  typeof (body as TokenBody).expiresIn === 'number';

/**
 * The browser flow: when a request says `X-Auth-Mode: cookie`, an answer carrying tokens
 * (login, refresh, password change, email change) sets them as HttpOnly, Secure,
 * SameSite=Strict cookies, with a CSRF token the page can read, and leaves them out of the
 * JSON body (`{sessionId, expiresIn}`, plus the user for an email change): script on the
 * page never sees a token. Answers to bearer clients are untouched.
 *
 * The CSRF token is kept for the life of the session (so requests in flight in other tabs
 * stay valid) and replaced at every login.
 */
@Injectable()
export class CookieTokensInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<Request>();
    if (!wantsCookies(request)) return next.handle();
    const response = context.switchToHttp().getResponse<Response>();
    return next.handle().pipe(
      map((body: unknown) => {
        if (!carriesTokens(body)) return body;
        const current = isCsrfVerified(request) ? readCookie(request, CSRF_COOKIE) : undefined;
        response.append('Set-Cookie', authCookieHeaders(body, current ?? newCsrfToken()));
        const { accessToken: _accessToken, refreshToken: _refreshToken, ...rest } = body;
        return rest;
      }),
    );
  }
}
