import type { SessionContext } from '../interfaces/session-context.interface.js';
import { SessionNotFreshError, SessionRevocationConfigError } from '../session-revocation.errors.js';
import { parseDuration } from '../utils/duration.js';

/**
 * A freshness requirement in ms: a duration like `'5m'` or a number of seconds. Throws
 * `SessionRevocationConfigError` for anything else (at decoration time for `@RequireFreshSession`).
 * @internal
 */
export function freshnessMaxAgeMs(maxAge: string | number): number {
  const ms = parseDuration(maxAge);
  if (ms === undefined) throw new SessionRevocationConfigError('RequireFreshSession maxAge', `must be a duration like '5m' or a number of seconds (got ${JSON.stringify(maxAge)})`);
  return ms;
}

/**
 * Throws {@link SessionNotFreshError} unless the user proved a credential in this session at most
 * `maxAge` ago (login or `SessionService.reauthenticate`; ASVS 7.5.1, 7.5.3). For services; the
 * `@RequireFreshSession()` guard and `SessionService.assertFreshSession` also re-read the session
 * record when the request's context looks too old, so a re-authentication made on another
 * instance a moment ago counts at once.
 *
 * ```ts
 * assertFreshSession(session, '5m'); // before deleting the account
 * ```
 *
 * @param session the request's session (`@CurrentSession()`)
 * @param maxAge a duration like `'5m'`, or seconds
 */
export function assertFreshSession(session: Pick<SessionContext, 'authTime'>, maxAge: string | number, now = Date.now()): void {
  const maxAgeMs = freshnessMaxAgeMs(maxAge);
  if (!(now - session.authTime * 1000 <= maxAgeMs)) throw new SessionNotFreshError(Math.floor(maxAgeMs / 1000));
}

/** The RFC 9470 challenge of a refused step-up: `Bearer error="insufficient_user_authentication", max_age=300`. @internal */
export function freshnessChallenge(maxAgeSeconds: number): string {
  return `Bearer error="insufficient_user_authentication", max_age=${maxAgeSeconds}`;
}
