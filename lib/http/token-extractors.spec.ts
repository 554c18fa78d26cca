import { bearerOrCookie, extractBearerToken, readCookie } from './token-extractors.js';

describe('token extractors', () => {
  it('reads a cookie from the header or a parsed cookies object', () => {
    expect(readCookie({ headers: { cookie: 'a=1; access_token=abc.def.ghi; b=2' } }, 'access_token')).toBe('abc.def.ghi');
    expect(readCookie({ cookies: { access_token: 'x' } }, 'access_token')).toBe('x');
    expect(readCookie({ headers: { cookie: 'access_token=%E0%A4%A' } }, 'access_token')).toBeUndefined();
    expect(readCookie({ headers: {} }, 'access_token')).toBeUndefined();
  });

  it('reads one bearer header and refuses a repeated one, in any casing', () => {
    const request = (rawHeaders: string[]) => ({ rawHeaders, headers: { authorization: rawHeaders[rawHeaders.length - 1] } });
    expect(extractBearerToken(request(['Host', 'x', 'X-Authorization', 'Bearer z', 'authorization', 'Bearer a.b.c']))).toBe('a.b.c');
    expect(extractBearerToken(request(['Authorization', 'Bearer a', 'AUTHORIZATION', 'Bearer b']))).toBeNull();
    expect(extractBearerToken(request(['aUtHoRiZaTiOn', 'Bearer a', 'authorization', 'Bearer b']))).toBeNull();
    expect(extractBearerToken({ headers: {} })).toBeUndefined();
    expect(extractBearerToken({ headers: { authorization: 'Basic abc' } })).toBeNull();
  });

  it('prefers the bearer header, falls back to the cookie, and refuses a broken header', () => {
    const extract = bearerOrCookie('access_token');
    expect(extract({ headers: { authorization: 'Bearer h.h.h', cookie: 'access_token=c.c.c' } })).toBe('h.h.h');
    expect(extract({ headers: { cookie: 'access_token=c.c.c' } })).toBe('c.c.c');
    expect(() => extract({ headers: { authorization: 'Basic x', cookie: 'access_token=c.c.c' } })).toThrow();
  });
});
