import request from 'supertest';

/** A cookie as the server set it: value and attributes. */
export interface SetCookie {
  name: string;
  value: string;
  attributes: Record<string, string | true>;
  raw: string;
}

/** Parses the `Set-Cookie` headers of a response. */
export function setCookies(res: request.Response): SetCookie[] {
  const raw = res.headers['set-cookie'] as unknown as string[] | string | undefined;
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return list.map((line) => {
    const [pair, ...attrs] = line.split(';').map((part) => part.trim());
    const at = pair.indexOf('=');
    const attributes: Record<string, string | true> = {};
    for (const attr of attrs) {
      const i = attr.indexOf('=');
      attributes[(i < 0 ? attr : attr.slice(0, i)).toLowerCase()] = i < 0 ? true : attr.slice(i + 1);
    }
    return { name: pair.slice(0, at), value: pair.slice(at + 1), attributes, raw: line };
  });
}

/** The browser flow's cookies for one device, as a browser would keep and send them. */
export class CookieJar {
  access?: string;
  refresh?: string;
  csrf?: string;

  /** Takes the cookies a response set (or cleared). */
  take(res: request.Response): this {
    for (const c of setCookies(res)) {
      const value = c.attributes['max-age'] === '0' ? undefined : c.value;
      if (c.name === '__Host-access_token') this.access = value;
      if (c.name === '__Secure-refresh_token') this.refresh = value;
      if (c.name === '__Host-csrf_token') this.csrf = value;
    }
    return this;
  }

  /** The `Cookie` header a browser sends to `path` (the refresh cookie only goes to /auth). */
  header(path: string): string {
    const parts: string[] = [];
    if (this.access) parts.push(`__Host-access_token=${this.access}`);
    if (this.refresh && path.startsWith('/auth')) parts.push(`__Secure-refresh_token=${this.refresh}`);
    if (this.csrf) parts.push(`__Host-csrf_token=${this.csrf}`);
    return parts.join('; ');
  }

  copy(): CookieJar {
    return Object.assign(new CookieJar(), this);
  }
}

type Method = 'get' | 'post' | 'patch' | 'delete';

/**
 * Requests the way the account page makes them: `X-Auth-Mode: cookie`, the jar's cookies,
 * same-origin provenance headers and, unless `csrf: false`, the CSRF token.
 */
export function browserRequest(server: any, jar: CookieJar, method: Method, path: string, options: { csrf?: boolean | string; headers?: Record<string, string> } = {}) {
  let req = request(server)[method](path).set('X-Auth-Mode', 'cookie').set('Sec-Fetch-Site', 'same-origin');
  const cookie = jar.header(path);
  if (cookie) req = req.set('Cookie', cookie);
  const csrf = options.csrf === undefined || options.csrf === true ? jar.csrf : options.csrf === false ? undefined : options.csrf;
  if (method !== 'get' && csrf) req = req.set('X-CSRF-Token', csrf);
  for (const [name, value] of Object.entries(options.headers ?? {})) req = req.set(name, value);
  return req;
}
