import { Inject } from '@nestjs/common';
import passport from 'passport';
import { RequestAuthenticator } from '../core/request-authenticator.js';
import type { LegacyTokenContext, SessionContext } from '../interfaces/session-context.interface.js';
import type { ResolvedSessionRevocationOptions } from '../session-revocation-options.js';
import { BEARER_CHALLENGE, INVALID_TOKEN_CHALLENGE, SESSION_REVOCATION_CONFIG } from '../session-revocation.constants.js';
import { SessionRefusedError } from '../session-revocation.errors.js';

/** Options of {@link SessionJwtStrategy}. */
export interface SessionJwtStrategyOptions {
  /** The name `AuthGuard(name)` refers to. Default `'jwt'`, the name passport-jwt registers. */
  name?: string;
}

/**
 * A passport strategy for `@nestjs/passport`'s `AuthGuard('jwt')` that authenticates with this
 * library: the access token is verified once (pinned algorithm, `exp`/`nbf`/`iss`/`aud`, `typ`), then
 * checked against the user's session token and the server-side session, from the same cache as the
 * global guard (and not again when the guard already checked it). Revoked, blocked, rotated and
 * expired sessions get the guard's generic 401 with `WWW-Authenticate`; a store that cannot answer,
 * 503. `@CurrentSession()` works on its routes. With `legacyTokens`, the app's own pre-adoption
 * tokens pass too until the transition ends.
 *
 * Change `extends PassportStrategy(Strategy)` to `extends SessionJwtStrategy`, and the old
 * `validate(payload)` to {@link validate}`(session, claims)`; or register it as a provider as is.
 * Provide it in a module that imports `SessionRevocationModule` (or make that module global).
 *
 * ```ts
 * @Injectable()
 * export class JwtStrategy extends SessionJwtStrategy {
 *   validate(session: SessionContext | LegacyTokenContext, claims: Readonly<Record<string, unknown>>) {
 *     return { userId: session.userId, username: claims.username };
 *   }
 * }
 * ```
 */
export class SessionJwtStrategy extends passport.Strategy {
  /** The name passport knows this strategy by. */
  readonly name: string;

  /** @internal */
  @Inject(RequestAuthenticator) private readonly requests?: RequestAuthenticator;
  /** @internal */
  @Inject(SESSION_REVOCATION_CONFIG) private readonly options?: ResolvedSessionRevocationOptions;

  constructor(options: SessionJwtStrategyOptions = {}) {
    super();
    this.name = options.name ?? 'jwt';
    passport.use(this.name, this);
  }

  /**
   * Shapes `request.user` from the authenticated session (or, with `legacyTokens`, the legacy
   * token's user, which has `legacy: true` and no `sessionId`) and the verified token's claims,
   * the app's own included. Return a falsy value to refuse the request (401). Default: the
   * session itself.
   */
  validate(session: SessionContext | LegacyTokenContext, _claims: Readonly<Record<string, unknown>>): unknown {
    return session;
  }

  /** passport's entry point. @internal */
  authenticate(request: any): void {
    this.user(request).then(
      (user) => this.success(user as object),
      (error: unknown) => this.error(error as Error),
    );
  }

  private async user(request: any): Promise<unknown> {
    if (!this.requests || !this.options) {
      throw new Error(`SessionJwtStrategy '${this.name}' was not created by Nest in a module that imports SessionRevocationModule`);
    }
    const token = this.options.tokenExtractor(request);
    if (token === undefined) throw new SessionRefusedError('malformed', { challenge: BEARER_CHALLENGE });
    if (token === null) throw new SessionRefusedError('malformed', { challenge: INVALID_TOKEN_CHALLENGE });
    let identity;
    try {
      identity = await this.requests.authenticate(request, token);
    } catch (error) {
      if (error instanceof SessionRefusedError) throw new SessionRefusedError(error.reason, { challenge: INVALID_TOKEN_CHALLENGE });
      throw error; // the store cannot answer: 503
    }
    const subject = identity.session ?? identity.legacy;
    const user = await this.validate(subject, subject.claims);
    if (!user) throw new SessionRefusedError('unknown', { challenge: INVALID_TOKEN_CHALLENGE });
    return user;
  }
}
