export { SessionRevocationModule } from './session-revocation.module.js';
export type { SessionRevocationModuleExtras } from './session-revocation.module-definition.js';
export { SESSION_REVOCATION_MODULE_OPTIONS } from './session-revocation.module-definition.js';
export { SessionService, SessionStoreUnavailableError } from './session.service.js';
export type { InvalidateSessionsOptions, LogoutTokens, SessionEnded } from './session.service.js';
export { SessionGuard } from './session.guard.js';
export type { SessionEventListener } from './core/session-events.js';
export { SessionRevocationConfigError } from './session-revocation-options.js';
export type { ResolvedSessionRevocationOptions } from './session-revocation-options.js';
export { SkipSessionCheck } from './decorators/skip-session-check.decorator.js';
export { CurrentSession, getSessionContext } from './decorators/current-session.decorator.js';
export { SessionTokenColumn } from './typeorm/session-token-column.decorator.js';
export { RevokesSessions } from './typeorm/revokes-sessions.decorator.js';
export {
  SESSION_REVOCATION_ENTITIES,
  AuthSession,
  AuthRefreshToken,
  AuthUserState,
  AuthRevocationEpoch,
} from './typeorm/entities/index.js';
export {
  createSessionTokenTriggerMigration,
  installSessionTokenTrigger,
  sessionTokenTriggerSql,
} from './typeorm/session-token-trigger.js';
export type { SessionTokenTriggerSql, SessionTokenTriggerOptions } from './typeorm/session-token-trigger.js';
export { SESSION_CONTEXT_KEY } from './session-revocation.constants.js';
export type * from './interfaces/session-context.interface.js';
export type * from './interfaces/session-revocation-options.interface.js';
export { secureLogoutHeaders, clearCookieHeader, CLEAR_SITE_DATA } from './http/logout.js';
export type { AuthCookie } from './http/logout.js';
export { bearerOrCookie, extractBearerToken, readCookie } from './http/token-extractors.js';
export { sessionEventStream, SESSION_STREAM_EVENTS } from './http/session-event-stream.js';
export type { SessionEventStreamOptions } from './http/session-event-stream.js';
