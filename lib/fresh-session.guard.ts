import { Injectable, Optional, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { getSessionContext } from './decorators/current-session.decorator.js';
import { assertFreshSession } from './core/session-freshness.js';
import type { SessionContext } from './interfaces/session-context.interface.js';
import { REQUIRE_FRESH_SESSION } from './session-revocation.constants.js';
import { SessionRefusedError } from './session-revocation.errors.js';
import { SessionService } from './session.service.js';

/**
 * The guard behind `@RequireFreshSession(maxAge)`: refuses a session whose user last proved a
 * credential more than `maxAge` ago with `SessionNotFreshError` (401 and the RFC 9470
 * challenge). It runs after the session guard, reading the request's session context (or a
 * `SessionContext` that a passport strategy put on `request.user`); a request without one is
 * refused. With `SessionService` in scope, a context that looks too old is checked against the
 * session record, so a re-authentication on another instance counts at once.
 */
@Injectable()
export class FreshSessionGuard implements CanActivate {
  /** @internal */
  constructor(
    private readonly reflector: Reflector,
    @Optional() private readonly sessions?: SessionService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const maxAgeMs = this.reflector.getAllAndOverride<number | undefined>(REQUIRE_FRESH_SESSION, [context.getHandler(), context.getClass()]);
    if (maxAgeMs === undefined) return true;
    const session = getSessionContext(context) ?? sessionOnUser(context);
    if (!session) throw new SessionRefusedError('malformed');
    const maxAge = maxAgeMs / 1000;
    if (this.sessions) await this.sessions.assertFreshSession(session, maxAge);
    else assertFreshSession(session, maxAge);
    return true;
  }
}

/** A `SessionContext` a passport strategy put on `request.user`, if that is what it is. */
function sessionOnUser(context: ExecutionContext): SessionContext | undefined {
  const user = context.getType<string>() === 'graphql' ? context.getArgByIndex(2)?.req?.user : context.switchToHttp().getRequest()?.user;
  return user && typeof user.sessionId === 'string' && typeof user.authTime === 'number' ? user : undefined;
}
