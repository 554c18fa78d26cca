import { MAX_TOKEN_LENGTH } from '../session-revocation.constants.js';

const BEARER = /^Bearer[ ]+([A-Za-z0-9\-_.~+/]+=*)[ ]*$/i;

/**
 * Reads a bearer token from a request's `Authorization` header. Returns `undefined` when
 * there is none and `null` when the header is present but unusable (wrong scheme, empty,
 * repeated, too long).
 */
export function extractBearerToken(request: any): string | undefined | null {
  const raw: string[] | undefined = request?.raw?.rawHeaders ?? request?.rawHeaders;
  if (Array.isArray(raw)) {
    let count = 0;
    // Lengths first: only a 13-character name is lower-cased.
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i];
      if (name?.length === 13 && String(name).toLowerCase() === 'authorization') count++;
    }
    if (count > 1) return null;
  }
  const header = request?.headers?.authorization;
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || header.length > MAX_TOKEN_LENGTH + 7) return null;
  const match = BEARER.exec(header);
  return match ? match[1] : null;
}


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
