import { HttpStatus } from '@nestjs/common';
import type { Request, RequestHandler, Response } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { readCookie } from '../../lib/index.js';
import { ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER, readUniqueCookie, REFRESH_COOKIE } from '../auth/auth-cookies.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Routes that authenticate with the password in the body, never with the cookies: no CSRF token needed (origin still checked). */
const PASSWORD_ROUTES = new Set(['/auth/login', '/auth/register']);
/** Never refused (logout always succeeds); without a valid CSRF token the cookies just do not name the session to end. */
const LOGOUT_ROUTE = '/auth/logout';

const CSRF_VERIFIED = Symbol('csrfVerified');

/** True when the request's CSRF token matched its CSRF cookie: its auth cookies may be used for a state change. */
export function isCsrfVerified(request: Request): boolean {
  return (request as Request & { [CSRF_VERIFIED]?: boolean })[CSRF_VERIFIED] === true;
}

/**
 * CSRF defence for the cookie-authenticated browser flow (OWASP: double-submit cookie plus
 * origin verification, on top of SameSite=Strict cookies). For POST, PUT, PATCH and DELETE:
 *
 * - a request with an `Authorization` header is a bearer client: browsers never add one on
 *   their own, and the guard then ignores the cookies, so nothing more is asked;
 * - otherwise the browser's provenance headers must not point elsewhere: `Sec-Fetch-Site`,
 *   when sent, must be `same-origin`, and `Origin`, when sent, must be this host;
 * - and a request carrying an auth cookie must echo the `__Host-csrf_token` cookie in the
 *   `X-CSRF-Token` header (a cross-site page can neither read the cookie nor send the header).
 *   Login and register are exempt (they authenticate with the password, not the cookies);
 *   logout is never refused but only uses the cookies when the token matched.
 *
 * Failures answer 403 `{statusCode, message, error}` naming what is missing, never a value.
 */
export function csrfProtection(): RequestHandler {
  return (request, response, next) => {
    if (SAFE_METHODS.has(request.method) || request.headers.authorization !== undefined) return next();
    const route = normalizedPath(request);

    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') return refuse(response, 'Cross-site request refused (Sec-Fetch-Site is not same-origin)');
    const origin = request.headers.origin;
    if (origin !== undefined && !isSameOrigin(origin, request.headers.host)) return refuse(response, 'Cross-origin request refused (Origin does not match the host)');

    const usesCookies = readCookie(request, ACCESS_COOKIE) !== undefined || readCookie(request, REFRESH_COOKIE) !== undefined;
    if (!usesCookies || PASSWORD_ROUTES.has(route)) return next();

    const header = request.headers[CSRF_HEADER];
    const cookie = readCookie(request, CSRF_COOKIE);
    if (typeof header === 'string' && cookie !== undefined && safeEqual(header, cookie)) {
      (request as Request & { [CSRF_VERIFIED]?: boolean })[CSRF_VERIFIED] = true;
      return next();
    }
    if (route === LOGOUT_ROUTE) return next();
    return refuse(
      response,
      `CSRF check failed: a request authenticated by cookie must send the X-CSRF-Token header with the value of the ${CSRF_COOKIE} cookie`,
    );
  };
}

/**
 * In the browser flow the refresh token is the HttpOnly cookie: for a CSRF-verified
 * `POST /auth/refresh` whose body names none, the cookie's is used, unless the request carries
 * two cookies of that name (one planted by a sibling subdomain: neither is trusted, and the
 * refresh fails). Runs after the CSRF check.
 */
export function refreshTokenFromCookie(): RequestHandler {
  return (request, _response, next) => {
    if (request.method !== 'POST' || normalizedPath(request) !== '/auth/refresh' || !isCsrfVerified(request)) return next();
    const body: unknown = request.body;
    const given = body && typeof body === 'object' && !Array.isArray(body) ? (body as { refreshToken?: unknown }).refreshToken : undefined;
    const cookie = readUniqueCookie(request, REFRESH_COOKIE);
    if (given === undefined && cookie !== undefined) {
      request.body = { ...(body && typeof body === 'object' && !Array.isArray(body) ? body : {}), refreshToken: cookie };
    }
    next();
  };
}

/** The path as Express routes it (case-insensitive, trailing slash ignored). */
function normalizedPath(request: Request): string {
  const path = request.path.toLowerCase().replace(/\/+$/, '');
  return path === '' ? '/' : path;
}

/** Whether an `Origin` header names this very host (http or https). */
export function isSameOrigin(origin: string | string[], host: string | undefined): boolean {
  if (typeof origin !== 'string' || !host) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host.toLowerCase() === host.toLowerCase();
  } catch {
    return false; // "null" (sandboxed frames, some redirects) or garbage
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

function refuse(response: Response, message: string): void {
  response.status(HttpStatus.FORBIDDEN).json({ statusCode: HttpStatus.FORBIDDEN, message, error: 'Forbidden' });
}
