import { clearCookieHeader, secureLogoutHeaders } from './logout.js';

describe('secure logout headers', () => {
  it('clears a cookie with the same name, path, domain and flags', () => {
    expect(clearCookieHeader({ name: 'rt', path: '/auth', domain: 'example.com', sameSite: 'Lax' })).toBe(
      'rt=; Path=/auth; Domain=example.com; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax',
    );
    expect(clearCookieHeader({ name: 'ui', secure: false, httpOnly: false })).toBe(
      'ui=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Strict',
    );
  });

  it('sends Clear-Site-Data and no-store', () => {
    const headers = secureLogoutHeaders([{ name: 'a' }, { name: 'b', path: '/auth' }]);
    expect(headers['Clear-Site-Data']).toBe('"cache", "cookies", "storage"');
    expect(headers['Cache-Control']).toBe('no-store');
    expect(headers['Set-Cookie']).toHaveLength(2);
  });
});
