import type { UserId } from '../interfaces/session-context.interface.js';
import type { SessionStore } from '../storage/session-store.interface.js';
import { sameValue } from '../utils/same-value.js';

/**
 * The user's current session token, or null when the user is gone or a `@RevokesSessions()`
 * value the caller's entity carried (what the app checked or saved) is no longer the stored one:
 * how login, renewal and re-authentication refuse to build on a credential that changed meanwhile.
 * @internal
 */
export async function sessionTokenIfUnchanged(store: SessionStore, userId: UserId, checked: Record<string, unknown>): Promise<string | null> {
  const user = await store.getUser(userId, Object.keys(checked));
  if (!user || user.sessionToken === null) return null;
  return Object.entries(checked).every(([key, value]) => sameValue(value, user.credentials[key])) ? user.sessionToken : null;
}

