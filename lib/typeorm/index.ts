export { SessionTokenColumn } from './session-token-column.decorator.js';
export { RevokesSessions } from './revokes-sessions.decorator.js';
export {
  SESSION_REVOCATION_ENTITIES,
  AuthSession,
  AuthRefreshToken,
  AuthUserState,
  AuthRevocationEpoch,
  AuthLoginAttempt,
  AuthSessionActivity,
} from './entities/index.js';
export { createSessionTokenTriggerMigration, installSessionTokenTrigger, sessionTokenTriggerSql } from './session-token-trigger.js';
export type { SessionTokenTriggerSql, SessionTokenTriggerOptions } from './session-token-trigger.js';
export { TypeOrmSessionStore } from './typeorm-session.store.js';
