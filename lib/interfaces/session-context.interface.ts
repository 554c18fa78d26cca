/** A user's primary key as the user entity defines it. */
export type UserId = string | number;

/** What `@CurrentSession()` gives a handler: the authenticated session of the request. */
export interface SessionContext {
  /** The user's primary key, typed like the entity's primary column. */
  userId: UserId;
  /** Server-side session id (`sid` claim). */
  sessionId: string;
  /** Access token issue time, seconds since the epoch. */
  issuedAt: number;
  /** Access token expiry, seconds since the epoch. */
  expiresAt: number;
  /**
   * When the user last proved a credential in this session (login or
   * `SessionService.reauthenticate`), seconds since the epoch: the later of the token's
   * `auth_time` and the session record's. What `@RequireFreshSession()` checks.
   */
  authTime: number;
  /**
   * The verified access token's payload: the library's claims (`sub`, `sid`, `iat`, `exp`, ...)
   * and the app's own, given at login with `issue(user, client, { claims })`.
   */
  claims: Readonly<Record<string, unknown>>;
}

/**
 * A request authenticated by one of the app's own pre-adoption tokens (`legacyTokens` option),
 * during the transition: a user, no session. It cannot be revoked, `@CurrentSession()` refuses
 * it, and `SessionService.exchangeLegacyToken()` swaps it for a session.
 */
export interface LegacyTokenContext {
  /** Always true: tells it apart from a {@link SessionContext}. */
  legacy: true;
  /** The user the token names. */
  userId: UserId;
  /** Token issue time (`iat`), seconds since the epoch, when it has one. */
  issuedAt?: number;
  /** Token expiry (`exp`), seconds since the epoch. */
  expiresAt: number;
  /** The verified token's payload, as the app signed it. */
  claims: Readonly<Record<string, unknown>>;
}

/** Options of `SessionService.issue` (login) and `renew`. */
export interface IssueOptions {
  /**
   * The app's own claims for the session's access tokens (`username`, `roles`, ...), JSON values,
   * at most 4 KB. Stored with the session, they are carried into every token a refresh mints;
   * `renew(user, sessionId, { claims })` replaces them. The library's claims (`sub`, `sid`,
   * `sfp`, `typ`, `jti`, `iat`, `exp`, `nbf`, `iss`, `aud`, `auth_time`) cannot be set: naming one
   * throws a `TypeError`. Claims are readable by the client: never put secrets in them.
   */
  claims?: Record<string, unknown>;
}

/** Tokens handed to a client at login, refresh or renewal. */
export interface IssuedTokens {
  /** Short-lived JWT for `Authorization: Bearer`. */
  accessToken: string;
  /** Opaque, single-use refresh token. */
  refreshToken: string;
  /** The server-side session these tokens belong to. */
  sessionId: string;
  /** Access-token lifetime in seconds. */
  expiresIn: number;
}

/** Client facts recorded with a session. */
export interface SessionClientInfo {
  /** The `User-Agent` the session was created from. */
  userAgent?: string;
  /** The client IP the session was created from. */
  ip?: string;
}

/** One row of a user's device list. */
export interface SessionInfo {
  /** Session id. */
  id: string;
  /** True for the session the list was asked from. */
  current: boolean;
  /** User agent at login. */
  userAgent: string | null;
  /** IP at login. */
  ip: string | null;
  /** Login time. */
  createdAt: Date;
  /** Last authenticated request (written at most once per `lastSeenInterval`). */
  lastSeenAt: Date;
}

/**
 * Kinds of session events. `login-failed`: a wrong password reported to `LoginAttempts`;
 * `reauthenticate`: `SessionService.reauthenticate`; `session-limit`: a session ended because its
 * user logged in past `maxSessionsPerUser` (`sessionId` is the ended one).
 */
export type SessionEventType =
  | 'login'
  | 'refresh'
  | 'logout'
  | 'revoke'
  | 'invalidate'
  | 'reuse-detected'
  | 'block'
  | 'unblock'
  | 'revoke-everyone'
  | 'login-failed'
  | 'reauthenticate'
  | 'session-limit';

/** A session event, as emitted to listeners and logged (never with token values). */
export interface SessionEvent {
  /** What happened. */
  type: SessionEventType;
  /** The user concerned (absent for `revoke-everyone`). */
  userId?: UserId;
  /** The session concerned, when one is. */
  sessionId?: string;
  /** Why, e.g. `password-change`, `logout`, `admin`. */
  reason?: string;
  /** Client IP, when known. */
  ip?: string;
  /** Client user agent, when known. */
  userAgent?: string;
  /** When it happened. */
  at: Date;
}
