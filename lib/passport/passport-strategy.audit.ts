import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { ResolvedSessionRevocationOptions } from '../session-revocation-options.js';
import { LOGGER_CONTEXT, SESSION_REVOCATION_CONFIG } from '../session-revocation.constants.js';

/** What the audit reads of a passport-jwt strategy (its internals, stable across 4.x). */
interface PassportJwtLike {
  _jwtFromRequest?: unknown;
  _secretOrKeyProvider?: unknown;
  _verifOpts?: { algorithms?: string[]; issuer?: string | string[]; audience?: string | RegExp | Array<string | RegExp> };
}

/**
 * Warns once, at startup, about the passport strategies that would accept this library's access
 * tokens without checking revocation: the strategy `AuthGuard('jwt')` resolves to, when it is not a
 * `SessionJwtStrategy`, and any passport-jwt strategy whose options do not rule this library's tokens
 * out (algorithm, issuer, audience). A route guarded by one of them accepts the tokens of revoked,
 * blocked and rotated sessions, also where `@SkipSessionCheck()` lets the library's guard step aside.
 * Does nothing when passport is not installed. It lives in the core module, so it must not
 * import passport statically.
 * @internal
 */
@Injectable()
export class PassportStrategyAudit implements OnApplicationBootstrap {
  private readonly logger = new Logger(LOGGER_CONTEXT);

  constructor(@Inject(SESSION_REVOCATION_CONFIG) private readonly config: ResolvedSessionRevocationOptions) {}

  async onApplicationBootstrap(): Promise<void> {
    let strategies: Record<string, object>;
    let SessionJwtStrategy: Function;
    try {
      strategies = ((await import('passport')).default as unknown as { _strategies?: Record<string, object> })._strategies ?? {};
      ({ SessionJwtStrategy } = await import('./session-jwt.strategy.js'));
    } catch {
      return; // no passport in this app
    }
    for (const [name, strategy] of Object.entries(strategies)) {
      if (strategy instanceof SessionJwtStrategy) continue;
      const passportJwt = isPassportJwt(strategy);
      if (passportJwt ? this.mayAccept(strategy) : name === 'jwt') {
        this.logger.warn(
          `passport strategy '${name}' (${strategy.constructor?.name ?? 'unknown'}) does not check session revocation: routes guarded by ` +
            `AuthGuard('${name}') accept the access tokens of revoked, blocked and rotated sessions, also where @SkipSessionCheck() ` +
            `skips the library's guard. Extend SessionJwtStrategy from 'nestjs-session-revocation/passport' instead.`,
        );
      }
    }
  }

  /** Whether a passport-jwt strategy's options leave this library's tokens acceptable (its key is not looked at). */
  private mayAccept(strategy: PassportJwtLike): boolean {
    const { algorithms, issuer, audience } = strategy._verifOpts ?? {};
    const { algorithm, issuer: ours, audience: ourAudience } = this.config;
    if (algorithms && !algorithms.includes(algorithm)) return false;
    if (issuer !== undefined && (ours === undefined || ![issuer].flat().includes(ours))) return false;
    if (audience === undefined) return true;
    return ourAudience !== undefined && [audience].flat().some((a) => (a instanceof RegExp ? a.test(ourAudience) : a === ourAudience));
  }
}

function isPassportJwt(strategy: PassportJwtLike): boolean {
  return typeof strategy._jwtFromRequest === 'function' && typeof strategy._secretOrKeyProvider === 'function';
}
