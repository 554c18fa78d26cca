import { randomBytes } from 'node:crypto';
import { bearerOrCookie, readCookie, type AuthCookie } from '../../lib/index.js';

/**
 * HttpOnly cookie holding the access token (sent on every request of the page). The
 * `__Host-` prefix makes the browser accept it only when set by this very host, Secure, with
 * `Path=/` and no `Domain`: a compromised sibling subdomain cannot plant its own (session
 * swapping) nor overwrite this one.
 */
export const ACCESS_COOKIE = '__Host-access_token';
/**
 * HttpOnly cookie holding the refresh token (sent only to `/auth/*`). `__Host-` needs
 * `Path=/`, so this one has the weaker `__Secure-` prefix (set over HTTPS only); a sibling
 * subdomain could still add a second cookie of this name, so a request carrying it twice is
 * not trusted with it (see {@link readUniqueCookie}).
 */
export const REFRESH_COOKIE = '__Secure-refresh_token';
/** Readable `__Host-` cookie holding the CSRF token the page echoes in {@link CSRF_HEADER} (double submit). */
export const CSRF_COOKIE = '__Host-csrf_token';
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
 * The cookies a browser client of the sample holds (Secure, SameSite=Strict, no Domain; the
 * tokens HttpOnly). Logout clears them with these very attributes, so the browser matches them.
 */
export const AUTH_COOKIES: AuthCookie[] = [
  { name: ACCESS_COOKIE, path: '/', secure: true, httpOnly: true, sameSite: 'Strict' },
  { name: REFRESH_COOKIE, path: '/auth', secure: true, httpOnly: true, sameSite: 'Strict' },
  { name: CSRF_COOKIE, path: '/', secure: true, httpOnly: false, sameSite: 'Strict' },
];

/**
 * The unprefixed names earlier versions of the sample set (same attributes). They are no
 * longer read; logout also clears them, for browsers that still hold them.
 */
export const LEGACY_AUTH_COOKIES: AuthCookie[] = [
  { name: 'access_token', path: '/', secure: true, httpOnly: true, sameSite: 'Strict' },
  { name: 'refresh_token', path: '/auth', secure: true, httpOnly: true, sameSite: 'Strict' },
  { name: 'csrf_token', path: '/', secure: true, httpOnly: false, sameSite: 'Strict' },
];

/**
 * The guard's token extractor: `Authorization: Bearer` when present (a broken header is
 * refused, never ignored), otherwise the access-token cookie. Unsafe requests authenticated
 * by the cookie must pass the CSRF check (sample/web/csrf.middleware.ts).
 */
export const sampleTokenExtractor = bearerOrCookie(ACCESS_COOKIE);

/**
 * The value of cookie `name` when the request carries it exactly once; `undefined` when it is
 * missing or sent more than once (a second cookie of that name was planted, e.g. by a sibling
 * subdomain with a longer path, and the browser may send it first: trust neither).
 */
export function readUniqueCookie(request: { headers: { cookie?: string } }, name: string): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return undefined;
  let count = 0;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) count++;
  }
  return count === 1 ? readCookie(request, name) : undefined;
}

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
