import 'reflect-metadata';
import { createHmac, generateKeyPairSync, KeyObject, randomBytes } from 'node:crypto';
import { Entity, PrimaryGeneratedColumn } from 'typeorm';
import { SessionTokenColumn } from './typeorm/session-token-column.decorator.js';
import { resolveOptions, SessionRevocationConfigError } from './session-revocation-options.js';
import { parseDuration } from './utils/duration.js';

@Entity()
class User {
  @PrimaryGeneratedColumn() id: number;
  @SessionTokenColumn() sessionToken: string;
}

@Entity()
class NoTokenUser {
  @PrimaryGeneratedColumn() id: number;
}

const secret = 'options-spec-secret-0123456789abcdef';

describe('resolveOptions', () => {
  it('applies defaults', () => {
    const r = resolveOptions({ userEntity: User, jwt: { secret } });
    expect(r).toMatchObject({ algorithm: 'HS256', accessTtlMs: 900_000, refreshTtlMs: 2_592_000_000, lastSeenIntervalMs: 60_000 });
    expect(r).toMatchObject({
      idleTimeoutMs: 1_800_000,
      maxSessionsPerUser: undefined,
      sessionLimitPolicy: 'evict-oldest',
      loginAttempts: { freeAttempts: 3, maxDelayMs: 900_000, windowMs: 86_400_000, perIp: { max: 100, windowMs: 900_000 } },
      prune: null,
      audit: null,
    });
    expect(r.fingerprintKey).toHaveLength(32);
    expect(r.fingerprintKey.equals(Buffer.from(secret))).toBe(false);
  });

  it.each([
    ['missing options', undefined, /option 'options' are missing/],
    ['missing userEntity', { jwt: { secret } }, /option 'userEntity' is required/],
    ['userEntity without token column', { userEntity: NoTokenUser, jwt: { secret } }, /'userEntity' \(NoTokenUser\) has no @SessionTokenColumn/],
    ['missing jwt', { userEntity: User }, /option 'jwt' is required/],
    ['missing secret', { userEntity: User, jwt: {} }, /option 'jwt.secret' is required/],
    ['short secret', { userEntity: User, jwt: { secret: 'short' } }, /'jwt.secret' must be at least 32 bytes/],
    ['alg none', { userEntity: User, jwt: { secret, algorithm: 'none' } }, /'jwt.algorithm' must be one of/],
    ['alg NONE', { userEntity: User, jwt: { secret, algorithm: 'NONE' } }, /'jwt.algorithm' must be one of/],
    ['unknown alg', { userEntity: User, jwt: { secret, algorithm: 'HS1' } }, /'jwt.algorithm' must be one of/],
    ['RS256 without private key', { userEntity: User, jwt: { algorithm: 'RS256', publicKey: 'k' } }, /'jwt.privateKey' is required/],
    ['RS256 without public key', { userEntity: User, jwt: { algorithm: 'RS256', privateKey: 'k' } }, /'jwt.publicKey' is required/],
    ['bad ttl', { userEntity: User, jwt: { secret, accessTtl: '15 minutes' } }, /'jwt.accessTtl' must be a duration/],
    ['short fingerprint secret', { userEntity: User, jwt: { secret, fingerprintSecret: 'x' } }, /'jwt.fingerprintSecret' must be at least 32 bytes/],
    ['bad non-http policy', { userEntity: User, jwt: { secret }, nonHttpContexts: 'allow' }, /'nonHttpContexts'/],
    ['legacy tokens without an end', { userEntity: User, jwt: { secret }, legacyTokens: { secret } }, /'legacyTokens.until' is required/],
    ['legacy tokens ending on no date', { userEntity: User, jwt: { secret }, legacyTokens: { secret, until: 'soon' } }, /'legacyTokens.until' is required/],
    ['legacy tokens without a secret', { userEntity: User, jwt: { secret }, legacyTokens: { until: new Date() } }, /'legacyTokens.secret' is required for HS256/],
    ['legacy tokens without a public key', { userEntity: User, jwt: { secret }, legacyTokens: { algorithm: 'RS256', until: new Date() } }, /'legacyTokens.publicKey' is required/],
    ['legacy tokens with alg none', { userEntity: User, jwt: { secret }, legacyTokens: { secret, algorithm: 'none', until: new Date() } }, /'legacyTokens.algorithm' must be one of/],
    ['a legacy user mapping that is no function', { userEntity: User, jwt: { secret }, legacyTokens: { secret, until: new Date(), userId: 'sub' } }, /'legacyTokens.userId' must be a function/],
    ['empty public route key', { userEntity: User, jwt: { secret }, publicRouteKey: '' }, /'publicRouteKey' must be a non-empty string or a symbol/],
    ['a 2-hour access token', { userEntity: User, jwt: { secret, accessTtl: '2h' } }, /'jwt.accessTtl' must be at most 1h/],
    ['a 10-year access token', { userEntity: User, jwt: { secret, accessTtl: 315_360_000 } }, /'jwt.accessTtl' must be at most 1h/],
    ['a 401-day session', { userEntity: User, jwt: { secret, sessionMaxAge: '401d' } }, /'jwt.sessionMaxAge' must be at most 400d/],
    ['a 500-day refresh token', { userEntity: User, jwt: { secret, refreshTtl: '500d' } }, /'jwt.refreshTtl' must be at most 400d/],
    ['a clock tolerance of a year', { userEntity: User, jwt: { secret, clockToleranceSeconds: 31_536_000 } }, /'jwt.clockToleranceSeconds' must be a number of seconds from 0 to 300/],
    ['a negative clock tolerance', { userEntity: User, jwt: { secret, clockToleranceSeconds: -1 } }, /'jwt.clockToleranceSeconds'/],
    ['32 times a', { userEntity: User, jwt: { secret: 'a'.repeat(32) } }, /'jwt.secret' has fewer than 8 distinct bytes/],
    ['changeme repeated', { userEntity: User, jwt: { secret: 'changeme'.repeat(4) } }, /'jwt.secret' has fewer than 8 distinct bytes/],
    ['a placeholder repeated', { userEntity: User, jwt: { secret: 'my-secret-key-'.repeat(3) } }, /'jwt.secret' is a short value repeated/],
    ['a 16-byte unit twice', { userEntity: User, jwt: { secret: 'abcdefgh12345678'.repeat(2) } }, /'jwt.secret' is a short value repeated/],
    ['a low-entropy Buffer', { userEntity: User, jwt: { secret: Buffer.alloc(48, 7) } }, /'jwt.secret' has fewer than 8 distinct bytes/],
    ['a low-entropy fingerprint secret', { userEntity: User, jwt: { secret, fingerprintSecret: 'f'.repeat(40) } }, /'jwt.fingerprintSecret' has fewer than 8/],
    ['an idle timeout above the session lifetime', { userEntity: User, jwt: { secret, sessionMaxAge: '1d' }, idleTimeout: '2d' }, /'idleTimeout' must be at most jwt.sessionMaxAge/],
    ['a lastSeenInterval as long as the idle timeout', { userEntity: User, jwt: { secret }, idleTimeout: '5m', lastSeenInterval: '5m' }, /'lastSeenInterval' must be shorter than idleTimeout \(300 s\)/],
    ['a session limit of 0', { userEntity: User, jwt: { secret }, maxSessionsPerUser: 0 }, /'maxSessionsPerUser' must be an integer from 1/],
    ['a fractional session limit', { userEntity: User, jwt: { secret }, maxSessionsPerUser: 2.5 }, /'maxSessionsPerUser'/],
    ['an unknown limit policy', { userEntity: User, jwt: { secret }, maxSessionsPerUser: 3, sessionLimitPolicy: 'evict-newest' }, /'sessionLimitPolicy'/],
    ['a bad back-off cap', { userEntity: User, jwt: { secret }, loginAttempts: { maxDelay: 'forever' } }, /'loginAttempts.maxDelay' must be a duration/],
    ['a per-IP limit of 0', { userEntity: User, jwt: { secret }, loginAttempts: { perIp: { max: 0 } } }, /'loginAttempts.perIp.max'/],
    ['prune: true', { userEntity: User, jwt: { secret }, prune: true }, /'prune' must be an object/],
    ['a bad prune interval', { userEntity: User, jwt: { secret }, prune: { every: 'hourly' } }, /'prune.every' must be a duration/],
    ['a bad audit retention', { userEntity: User, jwt: { secret }, audit: { retain: '-1d' } }, /'audit.retain' must be a duration/],
  ])('refuses %s with a message naming the option', (_case, options, message) => {
    expect(() => resolveOptions(options as any)).toThrow(SessionRevocationConfigError);
    expect(() => resolveOptions(options as any)).toThrow(message);
  });

  it('resolves the session policy options', () => {
    const r = resolveOptions({
      userEntity: User,
      jwt: { secret, accessTtl: '1h', sessionMaxAge: '400d', clockToleranceSeconds: 300 },
      idleTimeout: '2h',
      lastSeenInterval: '30s',
      maxSessionsPerUser: 5,
      sessionLimitPolicy: 'refuse',
      loginAttempts: { freeAttempts: 5, maxDelay: '1m', window: '1h', perIp: false },
      prune: { every: '10m' },
      audit: true,
    });
    expect(r).toMatchObject({
      accessTtlMs: 3_600_000,
      sessionMaxAgeMs: 400 * 86_400_000,
      idleTimeoutMs: 7_200_000,
      lastSeenIntervalMs: 30_000,
      maxSessionsPerUser: 5,
      sessionLimitPolicy: 'refuse',
      loginAttempts: { freeAttempts: 5, maxDelayMs: 60_000, windowMs: 3_600_000, perIp: null },
      prune: { everyMs: 600_000, retainMs: 30 * 86_400_000 },
      audit: { retainMs: 90 * 86_400_000 },
    });
    expect(resolveOptions({ userEntity: User, jwt: { secret }, audit: { retain: '7d' } }).audit).toEqual({ retainMs: 7 * 86_400_000 });
    expect(resolveOptions({ userEntity: User, jwt: { secret }, audit: false }).audit).toBeNull();
  });

  it.each([
    ['the test apps', 'test-secret-that-is-long-enough-0123456789'],
    ['48 random bytes, base64url', randomBytes(48).toString('base64url')],
    ['32 random bytes', randomBytes(32)],
    ['a passphrase', 'correct horse battery staple, twice removed'],
  ])('accepts a strong secret: %s', (_case, strong) => {
    expect(() => resolveOptions({ userEntity: User, jwt: { secret: strong } })).not.toThrow();
  });

  it('never echoes the secret in its errors', () => {
    try {
      resolveOptions({ userEntity: User, jwt: { secret: 'hunter2-short' } });
      throw new Error('expected a config error');
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});

describe('resolveOptions: JWT keys are parsed once, at startup', () => {
  const pem = (type: 'rsa' | 'ec', namedCurve?: string, modulusLength = 2048) =>
    generateKeyPairSync(type as any, {
      ...(type === 'rsa' ? { modulusLength } : { namedCurve }),
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    } as any) as unknown as { publicKey: string; privateKey: string };
  const rsa = pem('rsa');
  const rsaOther = pem('rsa');
  const p256 = pem('ec', 'prime256v1');
  const p384 = pem('ec', 'secp384r1');
  const rsa1024 = pem('rsa', undefined, 1024);

  it('HS*: one secret KeyObject holding the secret bytes, for signing and verifying', () => {
    const r = resolveOptions({ userEntity: User, jwt: { secret } });
    expect(r.signingKey).toBeInstanceOf(KeyObject);
    expect(r.signingKey.type).toBe('secret');
    expect(r.verifyKey).toBe(r.signingKey);
    expect(r.signingKey.export().equals(Buffer.from(secret))).toBe(true);
    const bytes = randomBytes(32);
    expect(resolveOptions({ userEntity: User, jwt: { secret: bytes } }).verifyKey.export().equals(bytes)).toBe(true);
  });

  it('the fingerprint key is still derived from the raw secret (tokens issued before stay valid)', () => {
    const r = resolveOptions({ userEntity: User, jwt: { secret } });
    const expected = createHmac('sha256', secret).update('nestjs-session-revocation:session-token-fingerprint').digest();
    expect(r.fingerprintKey.equals(expected)).toBe(true);
    const rs = resolveOptions({ userEntity: User, jwt: { algorithm: 'RS256', ...rsa } });
    expect(rs.fingerprintKey.equals(createHmac('sha256', rsa.privateKey).update('nestjs-session-revocation:session-token-fingerprint').digest())).toBe(true);
  });

  it('RS/ES*: a private KeyObject to sign, a public one to verify', () => {
    const r = resolveOptions({ userEntity: User, jwt: { algorithm: 'RS256', ...rsa } });
    expect([r.signingKey.type, r.verifyKey.type]).toEqual(['private', 'public']);
    const e = resolveOptions({ userEntity: User, jwt: { algorithm: 'ES256', ...p256 } });
    expect(e.verifyKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it.each([
    ['a secret that is neither string nor Buffer', { secret: 12345678901234567890123456789012 as any }, /'jwt.secret' must be a string or a Buffer/],
    ['an unparsable private key', { algorithm: 'RS256', privateKey: 'not a key', publicKey: rsa.publicKey }, /'jwt.privateKey' is not a usable PEM key/],
    ['an unparsable public key', { algorithm: 'RS256', privateKey: rsa.privateKey, publicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----' }, /'jwt.publicKey' is not a usable PEM key/],
    ['a public key of another pair', { algorithm: 'RS256', privateKey: rsa.privateKey, publicKey: rsaOther.publicKey }, /'jwt.publicKey' does not belong to jwt.privateKey/],
    ['an EC key for RS256', { algorithm: 'RS256', ...p256 }, /'jwt.privateKey' has key type ec; RS256 needs rsa/],
    ['an RSA key for ES256', { algorithm: 'ES256', ...rsa }, /'jwt.privateKey' has key type rsa; ES256 needs ec/],
    ['a P-384 key for ES256', { algorithm: 'ES256', ...p384 }, /'jwt.privateKey' is on curve secp384r1; ES256 needs prime256v1/],
    ['a 1024-bit RSA key', { algorithm: 'RS256', ...rsa1024 }, /'jwt.privateKey' is a 1024-bit RSA key; RS256 needs at least 2048 bits/],
  ])('refuses %s, naming the option and not the key', (_case, jwt, message) => {
    let error: unknown;
    try {
      resolveOptions({ userEntity: User, jwt: jwt as any });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SessionRevocationConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toMatch(/BEGIN|not a key/);
  });
});

describe('parseDuration', () => {
  it.each([
    ['15m', 900_000],
    ['30d', 2_592_000_000],
    ['500ms', 500],
    ['1.5h', 5_400_000],
    [60, 60_000],
  ])('%s', (input, ms) => expect(parseDuration(input)).toBe(ms));
  it.each(['', 'abc', '-5m', '0s', '5 parsecs', -1, 0, Number.NaN])('rejects %p', (input) => expect(parseDuration(input as any)).toBeUndefined());
});
