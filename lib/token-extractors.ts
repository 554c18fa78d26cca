import { extractBearerToken } from './session.guard.js';

/** Reads one cookie from a request's `Cookie` header (or `req.cookies` when a parser ran). */
export function readCookie(request: any, name: string): string | undefined {
  const parsed = request?.cookies?.[name];
  if (typeof parsed === 'string') return parsed;
  const header = request?.headers?.cookie;
  if (typeof header !== 'string' || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) {
      const value = part.slice(index + 1).trim();
      try {
        return decodeURIComponent(value);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * A `tokenExtractor` for browser apps: the `Authorization: Bearer` header when present,
 * otherwise the access token from an HttpOnly cookie. Pair it with a CSRF defence for
 * cookie-authenticated state-changing requests.
 *
 * ```ts
 * SessionRevocationModule.forRoot({ ..., tokenExtractor: bearerOrCookie('access_token') })
 * ```
 */
export function bearerOrCookie(cookieName: string): (request: any) => string | undefined {
  return (request) => {
    const bearer = extractBearerToken(request);
    if (bearer === null) throw new Error('unusable Authorization header');
    return bearer ?? readCookie(request, cookieName);
  };
}
