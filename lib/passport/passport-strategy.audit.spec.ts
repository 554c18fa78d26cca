import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import passport from 'passport';
import { ExtractJwt, Strategy as JwtStrategy } from 'passport-jwt';
import { Strategy as LocalStrategy } from 'passport-local';
import { PassportStrategyAudit } from './passport-strategy.audit.js';
import { SessionJwtStrategy } from './session-jwt.strategy.js';

describe('PassportStrategyAudit', () => {
  const registry = passport as unknown as { _strategies: Record<string, unknown> };
  let saved: Record<string, unknown>;
  let warn: { mock: { calls: unknown[][] }; mockRestore(): void };
  beforeEach(() => {
    saved = registry._strategies;
    registry._strategies = {};
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    registry._strategies = saved;
    warn.mockRestore();
  });

  const config = { algorithm: 'HS256', issuer: 'https://app.example', audience: 'app' } as any;
  const passportJwt = (options: Record<string, unknown> = {}) =>
    new JwtStrategy({ jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), secretOrKey: 'k', ...options } as any, () => undefined);
  const warnedAbout = async () => {
    await new PassportStrategyAudit(config).onApplicationBootstrap();
    return warn.mock.calls.map((args) => /passport strategy '([^']+)'/.exec(String(args[0]))?.[1]);
  };

  it.each([
    ["warns about 'jwt' as passport-jwt registers it", 'jwt', () => passportJwt(), true],
    ["warns about 'jwt' of another kind", 'jwt', () => new LocalStrategy(() => undefined), true],
    ['warns about passport-jwt under another name, with options that accept these tokens', 'api', () => passportJwt({ issuer: 'https://app.example', audience: ['other', 'app'] }), true],
    ['warns about passport-jwt with a matching audience pattern', 'api', () => passportJwt({ audience: /^app$/ }), true],
    ["is quiet about passport-jwt for another issuer (an identity provider's tokens)", 'auth0', () => passportJwt({ issuer: 'https://tenant.example/' }), false],
    ['is quiet about passport-jwt for another audience', 'api', () => passportJwt({ audience: 'billing' }), false],
    ['is quiet about passport-jwt pinned to other algorithms', 'api', () => passportJwt({ algorithms: ['RS256'] }), false],
    ['is quiet about strategies that verify no JWTs', 'local', () => new LocalStrategy(() => undefined), false],
  ])('%s', async (_case, name, strategy, warned) => {
    passport.use(name, strategy() as passport.Strategy);
    expect(await warnedAbout()).toEqual(warned ? [name] : []);
  });

  it("stays quiet for SessionJwtStrategy, under 'jwt' or any name", async () => {
    new SessionJwtStrategy();
    new SessionJwtStrategy({ name: 'admin-jwt' });
    expect(Object.keys(registry._strategies).sort()).toEqual(['admin-jwt', 'jwt']);
    expect(await warnedAbout()).toEqual([]);
  });
});
