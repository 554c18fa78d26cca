import type { AuthCookie } from '../../lib/index.js';

/**
 * The cookies a browser client of the sample may hold its tokens in (HttpOnly, Secure,
 * SameSite=Strict). Logout clears them with these very attributes, so the browser matches them.
 */
export const AUTH_COOKIES: AuthCookie[] = [
  { name: 'access_token', path: '/', secure: true, httpOnly: true, sameSite: 'Strict' },
  { name: 'refresh_token', path: '/auth', secure: true, httpOnly: true, sameSite: 'Strict' },
];
