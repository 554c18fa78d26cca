import { AuthLoginAttempt } from './auth-login-attempt.entity.js';
import { AuthRefreshToken } from './auth-refresh-token.entity.js';
import { AuthRevocationEpoch } from './auth-revocation-epoch.entity.js';
import { AuthSessionActivity } from './auth-session-activity.entity.js';
import { AuthSession } from './auth-session.entity.js';
import { AuthUserState } from './auth-user-state.entity.js';

export { AuthLoginAttempt, AuthRefreshToken, AuthRevocationEpoch, AuthSession, AuthSessionActivity, AuthUserState };

/** The library's entities: add them to your DataSource's `entities` (or migrations). */
export const SESSION_REVOCATION_ENTITIES = [AuthSession, AuthRefreshToken, AuthUserState, AuthRevocationEpoch, AuthLoginAttempt, AuthSessionActivity];
