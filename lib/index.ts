// Module, guard, service
export { SessionRevocationModule } from './session-revocation.module.js';
export type { SessionRevocationModuleExtras } from './session-revocation.module-definition.js';
export { SESSION_REVOCATION_MODULE_OPTIONS } from './session-revocation.module-definition.js';
export { SessionService } from './session.service.js';
export type { InvalidateSessionsOptions, LogoutTokens, PruneOptions, SessionActivityEntry, SessionEnded } from './session.service.js';
export { SessionGuard } from './session.guard.js';
export { FreshSessionGuard } from './fresh-session.guard.js';
export { LoginAttempts } from './login-attempts.service.js';
export type { LoginAttempt } from './login-attempts.service.js';
export { assertFreshSession } from './core/session-freshness.js';
export { clientAddressKey } from './utils/client-address.js';
export { SessionErrorFilter } from './session-error.filter.js';
export type { SessionEventListener } from './core/session-events.js';

// Options and errors
export type { ResolvedSessionRevocationOptions, ResolvedBusOption, ResolvedLegacyTokens } from './session-revocation-options.js';
export { InjectSessionRevocationOptions } from './session-revocation.decorators.js';
export { LEGACY_TOKEN_KEY, SESSION_CONTEXT_KEY, SESSION_REVOCATION_CONFIG } from './session-revocation.constants.js';
export {
  SessionRevocationError,
  SessionRefusedError,
  SessionStoreUnavailableError,
  SessionRevocationConfigError,
  SessionNotFreshError,
  TooManyAttemptsError,
} from './session-revocation.errors.js';
export type { SessionRefusalReason } from './session-revocation.errors.js';
export type * from './interfaces/session-context.interface.js';
export type * from './interfaces/session-revocation-options.interface.js';

// Decorators
export { SkipSessionCheck } from './decorators/skip-session-check.decorator.js';
export { CurrentSession, getSessionContext } from './decorators/current-session.decorator.js';
export { RequireFreshSession } from './decorators/require-fresh-session.decorator.js';

// Storage, TypeORM, bus, HTTP helpers
export * from './storage/index.js';
export * from './typeorm/index.js';
export * from './bus/index.js';
export * from './http/index.js';
