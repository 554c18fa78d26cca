import { randomBytes } from 'node:crypto';
import { bearerOrCookie, type AuthCookie } from '../../lib/index.js';

/** HttpOnly cookie holding the access token (sent on every request of the page). */
export const ACCESS_COOKIE = 'access_token';
/** HttpOnly cookie holding the refresh token (sent only to `/auth/*`). */
export const REFRESH_COOKIE = 'refresh_token';
/** Readable cookie holding the CSRF token the page echoes in {@link CSRF_HEADER} (double submit). */
export const CSRF_COOKIE = 'csrf_token';
/** Request header carrying the CSRF token on cookie-authenticated unsafe requests. */
export const CSRF_HEADER = 'x-csrf-token';
/**
 * Request header asking for the browser flow: `X-Auth-Mode: cookie`. Tokens in the answers
 * of login, refresh, password and email changes are then set as HttpOnly cookies and left
 * out of the JSON body. Without it, the JSON contract is the bearer one, unchanged.
 */
export const AUTH_MODE_HEADER = 'x-auth-mode';

/** Lifetime of the refresh and CSRF cookies: the sample's `refreshTtl` (30 days), in seconds. */
export const REFRESH_COOKIE_MAX_AGE = 30 * 24 * 3600;

/**
 * The cookies a browser client of the sample holds (Secure, SameSite=Strict; the tokens
 * HttpOnly). Logout clears them with these very attributes, so the browser matches them.
 */
export const AUTH_COOKIES: AuthCookie[] = [
  { name: ACCESS_COOKIE, path: '/', secure: true, httpOnly: true, sameSite: 'Strict' },
  { name: REFRESH_COOKIE, path: '/auth', secure: true, httpOnly: true, sameSite: 'Strict' },
  { name: CSRF_COOKIE, path: '/', secure: true, httpOnly: false, sameSite: 'Strict' },
];

/**
 * The guard's token extractor: `Authorization: Bearer` when present (a broken header is
 * refused, never ignored), otherwise the access-token cookie. Unsafe requests authenticated
 * by the cookie must pass the CSRF check (sample/web/csrf.middleware.ts).
 */
export const sampleTokenExtractor = bearerOrCookie(ACCESS_COOKIE);

/** A new random CSRF token (256 bits, base64url). */
export const newCsrfToken = (): string => randomBytes(32).toString('base64url');

/** `Set-Cookie` value for `cookie` (one of {@link AUTH_COOKIES}) with `value` and `maxAge` seconds. */
export function setCookieHeader(cookie: AuthCookie, value: string, maxAge: number): string {
  const parts = [`${cookie.name}=${value}`, `Path=${cookie.path ?? '/'}`, `Max-Age=${Math.max(0, Math.floor(maxAge))}`];
  if (cookie.domain) parts.push(`Domain=${cookie.domain}`);
  if (cookie.secure ?? true) parts.push('Secure');
  if (cookie.httpOnly ?? true) parts.push('HttpOnly');
  parts.push(`SameSite=${cookie.sameSite ?? 'Strict'}`);
  return parts.join('; ');
}

const cookie = (name: string): AuthCookie => AUTH_COOKIES.find((c) => c.name === name)!;

/** The three `Set-Cookie` values of a browser sign-in, refresh or renewal. */
export function authCookieHeaders(tokens: { accessToken: string; refreshToken: string; expiresIn: number }, csrfToken: string): string[] {
  return [
    setCookieHeader(cookie(ACCESS_COOKIE), tokens.accessToken, tokens.expiresIn),
    setCookieHeader(cookie(REFRESH_COOKIE), tokens.refreshToken, REFRESH_COOKIE_MAX_AGE),
    setCookieHeader(cookie(CSRF_COOKIE), csrfToken, REFRESH_COOKIE_MAX_AGE),
  ];
}
