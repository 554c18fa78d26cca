import 'reflect-metadata';
import { Entity, PrimaryGeneratedColumn } from 'typeorm';
import { SessionTokenColumn } from './decorators/session-token-column.decorator.js';
import { resolveOptions, SessionRevocationConfigError } from './options.validation.js';
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

const secret = 's'.repeat(32);

describe('resolveOptions', () => {
  it('applies defaults', () => {
    const r = resolveOptions({ userEntity: User, jwt: { secret } });
    expect(r).toMatchObject({ algorithm: 'HS256', accessTtlMs: 900_000, refreshTtlMs: 2_592_000_000, lastSeenIntervalMs: 60_000 });
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
  ])('refuses %s with a message naming the option', (_case, options, message) => {
    expect(() => resolveOptions(options as any)).toThrow(SessionRevocationConfigError);
    expect(() => resolveOptions(options as any)).toThrow(message);
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
