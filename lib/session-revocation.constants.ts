/** Metadata key set by `@SkipSessionCheck()`. */
export const SKIP_SESSION_CHECK = 'session-revocation:skip';
/** Metadata key naming the per-user session-token property of an entity class. */
export const SESSION_TOKEN_COLUMN = 'session-revocation:session-token-column';
/** Metadata key listing the properties whose change ends the user's other sessions. */
export const REVOKES_SESSIONS_COLUMNS = 'session-revocation:revokes-sessions-columns';
/** Injection token of the validated, defaulted configuration. */
export const SESSION_REVOCATION_CONFIG = Symbol('SESSION_REVOCATION_CONFIG');
/** Injection token of the revocation bus instance (null without a bus). @internal */
export const SESSION_REVOCATION_BUS = Symbol('SESSION_REVOCATION_BUS');
/** Injection token of the TypeORM DataSource the library works on (null when a custom store needs none). */
export const SESSION_DATA_SOURCE = Symbol('SESSION_DATA_SOURCE');
/** Property of the request object that holds the authenticated {@link SessionContext}. */
export const SESSION_CONTEXT_KEY = 'sessionContext';
/** Property of the request object that holds a {@link LegacyTokenContext} (`legacyTokens` option): the request has no session. */
export const LEGACY_TOKEN_KEY = 'legacyToken';
/** `WWW-Authenticate` of a request that carried no token (RFC 6750 section 3). @internal */
export const BEARER_CHALLENGE = 'Bearer';
/** `WWW-Authenticate` of a request whose token was refused. @internal */
export const INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"';
/** Header `typ` of access tokens (RFC 9068). */
export const ACCESS_TOKEN_TYP = 'at+jwt';
/** Longest bearer token the guard will try to parse, in characters. */
export const MAX_TOKEN_LENGTH = 8192;
/** Name of the logger context used by the library. */
export const LOGGER_CONTEXT = 'SessionRevocation';
/** Default channel of the revocation bus (Redis pub/sub or PostgreSQL NOTIFY). */
export const DEFAULT_BUS_CHANNEL = 'session_revocation';
/** The session id format the library issues (`crypto.randomUUID()`); anything else is refused before a query. */
export const SESSION_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Metadata key set by `@RequireFreshSession()`: the largest session age accepted, in ms. */
export const REQUIRE_FRESH_SESSION = 'session-revocation:require-fresh-session';
