/** An auth cookie as the app sets it; logout clears it with the very same attributes. */
export interface AuthCookie {
  /** Cookie name. */
  name: string;
  /** Path attribute. Default `/`. */
  path?: string;
  /** Domain attribute, if the cookie was set with one. */
  domain?: string;
  /** Secure flag. Default true. */
  secure?: boolean;
  /** HttpOnly flag. Default true. */
  httpOnly?: boolean;
  /** SameSite attribute. Default `Strict`. */
  sameSite?: 'Strict' | 'Lax' | 'None';
}

/** Value of the `Clear-Site-Data` header sent on logout. */
export const CLEAR_SITE_DATA = '"cache", "cookies", "storage"';

/** Serializes a `Set-Cookie` value that deletes `cookie` (same name, path, domain, flags, `Max-Age=0`). */
export function clearCookieHeader(cookie: AuthCookie): string {
  const parts = [`${cookie.name}=`, `Path=${cookie.path ?? '/'}`];
  if (cookie.domain) parts.push(`Domain=${cookie.domain}`);
  parts.push('Max-Age=0', 'Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  if (cookie.secure ?? true) parts.push('Secure');
  if (cookie.httpOnly ?? true) parts.push('HttpOnly');
  parts.push(`SameSite=${cookie.sameSite ?? 'Strict'}`);
  return parts.join('; ');
}

/**
 * The headers of a secure logout response: one `Set-Cookie` per auth cookie clearing it
 * with matching attributes, `Clear-Site-Data` and `Cache-Control: no-store`. Apply them
 * with `res.set(headers)` (Express) or `reply.headers(headers)` (Fastify).
 */
export function secureLogoutHeaders(cookies: AuthCookie[] = []): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {
    'Clear-Site-Data': CLEAR_SITE_DATA,
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
  };
  if (cookies.length > 0) headers['Set-Cookie'] = cookies.map(clearCookieHeader);
  return headers;
}
