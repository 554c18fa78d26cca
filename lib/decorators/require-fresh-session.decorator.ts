import { applyDecorators, SetMetadata, UseGuards } from '@nestjs/common';
import { freshnessMaxAgeMs } from '../core/session-freshness.js';
import { FreshSessionGuard } from '../fresh-session.guard.js';
import { REQUIRE_FRESH_SESSION } from '../session-revocation.constants.js';

/**
 * Requires a fresh session on a handler or a whole controller (ASVS 7.5.1, 7.5.3): the user must
 * have proved a credential in this session at most `maxAge` ago, at login or with
 * `SessionService.reauthenticate()`. Older sessions get 401 with
 * `WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age=<seconds>`
 * (RFC 9470); the client asks for the password, re-authenticates and retries. A handler's value
 * overrides its controller's.
 *
 * ```ts
 * @RequireFreshSession('5m') @Delete('me') deleteAccount() {...}
 * ```
 *
 * @param maxAge a duration like `'5m'`, or seconds; checked when the decorator is applied
 */
export const RequireFreshSession = (maxAge: string | number) =>
  applyDecorators(SetMetadata(REQUIRE_FRESH_SESSION, freshnessMaxAgeMs(maxAge)), UseGuards(FreshSessionGuard));
