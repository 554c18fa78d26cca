import { JwtService } from '@nestjs/jwt';
import { resolveOptions } from '../session-revocation-options.js';
import { AccessTokens } from './access-tokens.js';

const secret = 'access-tokens-spec-secret-0123456789abcdef';
const SID = '6f1c1c43-6c1a-4c8e-9a43-2f3f1b5a9d10';
const config = resolveOptions({ store: { consumeRefreshToken() {}, findSession() {} } as any, jwt: { secret, accessTtl: '15m', clockToleranceSeconds: 5 } });
const tokens = new AccessTokens(config);
const jwt = new JwtService({ secret, signOptions: { algorithm: 'HS256', header: { alg: 'HS256', typ: 'at+jwt' } } });
const now = () => Math.floor(Date.now() / 1000);
const sign = (claims: Record<string, unknown>) => jwt.sign({ sub: '1', sid: SID, sfp: 'fp', ...claims });

describe('AccessTokens', () => {
  it('mints auth_time from the session and reads it back', () => {
    const authTime = Date.now() - 120_000;
    const claims = tokens.verify(tokens.mint(1, { id: SID, sessionTokenFingerprint: 'fp', authTime }));
    expect(claims).toMatchObject({ sub: '1', sid: SID, sfp: 'fp', auth_time: Math.floor(authTime / 1000) });
    expect(claims!.exp - claims!.iat).toBe(900);
  });

  it('accepts its own lifetime and the clock tolerance, nothing more', () => {
    expect(tokens.verify(sign({ iat: now() - 900 + 10, exp: now() + 10 }))).not.toBeNull();
    expect(tokens.verify(sign({ iat: now() + 4, exp: now() + 904 }))).not.toBeNull(); // 4 s ahead: within the tolerance
  });

  it('refuses a token whose iat lies in the future beyond the tolerance', () => {
    expect(tokens.verify(sign({ iat: now() + 60, exp: now() + 960 }))).toBeNull();
    expect(tokens.verify(sign({ iat: now() + 60, exp: now() + 960 }), true)).toBeNull(); // also where expiry is ignored
  });

  it('refuses a token older than accessTtl plus the tolerance, whatever its exp', () => {
    expect(tokens.verify(sign({ iat: now() - 906, exp: now() + 365 * 86_400 }))).toBeNull();
    expect(tokens.verify(sign({ iat: now() - 3600, exp: now() + 60 }))).toBeNull();
    // Logout and watch accept expired tokens of a session; the age bound does not apply there either.
    expect(tokens.verify(sign({ iat: now() - 3600, exp: now() - 2700 }), true)).not.toBeNull();
  });

  it('refuses an auth_time that is not a number', () => {
    expect(tokens.verify(sign({ iat: now(), exp: now() + 900, auth_time: 'yesterday' }))).toBeNull();
    expect(tokens.verify(sign({ iat: now(), exp: now() + 900 }))).not.toHaveProperty('auth_time');
  });
});
