export { SessionRevocationModule } from './session-revocation.module.js';
export type { SessionRevocationModuleExtras } from './session-revocation.module-definition.js';
export { SESSION_REVOCATION_MODULE_OPTIONS } from './session-revocation.module-definition.js';
export { SessionService, SessionStoreUnavailableError } from './session.service.js';
export type { InvalidateSessionsOptions, LogoutTokens, SessionEnded } from './session.service.js';
export { SessionGuard, extractBearerToken } from './session.guard.js';
export type { SessionEventListener } from './session-events.js';
export { SessionRevocationConfigError } from './options.validation.js';
export type { ResolvedSessionRevocationOptions } from './options.validation.js';
export { SkipSessionCheck } from './decorators/skip-session-check.decorator.js';
export { CurrentSession, getSessionContext } from './decorators/current-session.decorator.js';
export { SessionTokenColumn } from './decorators/session-token-column.decorator.js';
export { RevokesSessions } from './decorators/revokes-sessions.decorator.js';
export {
  SESSION_REVOCATION_ENTITIES,
  AuthSession,
  AuthRefreshToken,
  AuthUserState,
  AuthRevocationEpoch,
} from './entities/index.js';
export {
  createSessionTokenTriggerMigration,
  installSessionTokenTrigger,
  sessionTokenTriggerSql,
} from './typeorm/session-token-trigger.js';
export type { SessionTokenTriggerSql, SessionTokenTriggerOptions } from './typeorm/session-token-trigger.js';
export { SESSION_CONTEXT_KEY } from './session-revocation.constants.js';
export type * from './interfaces/session-context.interface.js';
export type * from './interfaces/session-revocation-options.interface.js';
export { secureLogoutHeaders, clearCookieHeader, CLEAR_SITE_DATA } from './logout.js';
export type { AuthCookie } from './logout.js';
export { bearerOrCookie, readCookie } from './token-extractors.js';
export { sessionEventStream, SESSION_STREAM_EVENTS } from './session-event-stream.js';
export type { SessionEventStreamOptions } from './session-event-stream.js';
