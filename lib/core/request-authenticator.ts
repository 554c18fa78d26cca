import { Injectable } from '@nestjs/common';
import type { LegacyTokenContext, SessionContext } from '../interfaces/session-context.interface.js';
import { LEGACY_TOKEN_KEY, SESSION_CONTEXT_KEY } from '../session-revocation.constants.js';
import { LegacyTokens } from './legacy-tokens.js';
import { SessionAuthenticator } from './session-authenticator.js';

/** Where a request keeps the outcome of its check (a property of its own: cheaper than a WeakMap entry per request). */
const DONE = Symbol('session-revocation:authenticated');

/** Who a request's token names: a library session, or (during a transition) a legacy token's user. @internal */
export type RequestIdentity = { session: SessionContext; legacy?: undefined } | { legacy: LegacyTokenContext; session?: undefined };

/**
 * Authenticates the token of a request, once per request: the global guard and
 * `SessionJwtStrategy` share the result, so a request that passes both is verified once. Attaches
 * the outcome to the request (`SESSION_CONTEXT_KEY` or `LEGACY_TOKEN_KEY`). Throws like
 * {@link SessionAuthenticator.authenticate}.
 * @internal
 */
@Injectable()
export class RequestAuthenticator {
  constructor(
    private readonly authenticator: SessionAuthenticator,
    private readonly legacy: LegacyTokens,
  ) {}

  async authenticate(request: Record<string | symbol, unknown>, token: string): Promise<RequestIdentity> {
    const done = request[DONE] as { token: string; identity: RequestIdentity } | undefined;
    if (done?.token === token) return done.identity;
    let identity: RequestIdentity;
    if (this.legacy.handles(token)) {
      identity = { legacy: await this.legacy.authenticate(token) };
      request[LEGACY_TOKEN_KEY] = identity.legacy;
    } else {
      identity = { session: await this.authenticator.authenticate(token) };
      request[SESSION_CONTEXT_KEY] = identity.session;
    }
    request[DONE] = { token, identity };
    return identity;
  }
}
