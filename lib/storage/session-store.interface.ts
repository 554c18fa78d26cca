import type { UserId } from '../interfaces/session-context.interface.js';

/** A server-side session: one login on one device, and its refresh-token family. Times are ms since the epoch. */
export interface SessionRecord {
  /** Session id (a UUID), carried as `sid` in access tokens. */
  id: string;
  /** The user's primary key, as text. */
  userId: string;
  /** Keyed fingerprint of the user's session token when the session was (re)issued. */
  sessionTokenFingerprint: string;
  /** User agent at login. */
  userAgent: string | null;
  /** IP at login. */
  ip: string | null;
  /** Login time. */
  createdAt: number;
  /** Last authenticated request (written at most once per `lastSeenInterval`). */
  lastSeenAt: number;
  /** When the current refresh token expires (sliding). */
  expiresAt: number;
  /** Absolute end of the session, whatever the refreshes. */
  absoluteExpiresAt: number;
  /** When the session was ended, if it was. */
  endedAt: number | null;
  /** Why it was ended. */
  endReason: string | null;
  /** The app's own access-token claims given at login (`issue(user, client, { claims })`), carried into every token of the session. */
  claims: Record<string, unknown> | null;
}

/** One refresh token of a session's family, stored only as its SHA-256 hash. */
export interface RefreshTokenRecord {
  /** SHA-256 of the opaque token, hex. */
  tokenHash: string;
  /** The session (token family) it belongs to. */
  sessionId: string;
  /** The session's fingerprint when this token was minted: a renewal since then makes it stale. */
  sessionTokenFingerprint: string;
  /** Issue time. */
  createdAt: number;
  /** Expiry. */
  expiresAt: number;
  /** When it was exchanged; a second presentation after this is reuse. */
  usedAt: number | null;
}

/** What the store knows of a user of the app's own user table. */
export interface UserSnapshot {
  /** The user's current session token; null when none was generated yet. */
  sessionToken: string | null;
  /** The `@RevokesSessions()` values asked for (password hash, email, ...), as the app's entity holds them. */
  credentials: Record<string, unknown>;
}

/** Fields of a session the library changes after creating it. */
export type SessionChanges = Partial<Pick<SessionRecord, 'sessionTokenFingerprint' | 'lastSeenAt' | 'expiresAt' | 'claims'>>;

/**
 * Where sessions live. The library's default is the TypeORM store (`TypeOrmSessionStore`, on the
 * app's DataSource); `MemorySessionStore` serves tests and single-process demos; an app may pass its
 * own implementation as the module's `store` option. Every implementation passes the same
 * conformance suite.
 *
 * Contract: every method is a small, fixed number of round trips whatever the number of sessions;
 * `consumeRefreshToken` is the race-safe single-use primitive (of any number of concurrent calls
 * for one token, exactly one resolves true). A method that cannot reach its backend throws
 * `SessionStoreUnavailableError`; the library then fails closed (503). Values a backend cannot
 * hold as ids (an out-of-range number) read as "not found".
 */
export interface SessionStore {
  /** Parses a token's `sub` claim into a user id of the app's type; undefined when it cannot be one. */
  parseUserId(sub: unknown): UserId | undefined;
  /** The id of a user entity object, or the id itself. */
  userIdOf(user: object | UserId): UserId;
  /** The `@RevokesSessions()` values a user entity object carries (what the app checked at login). */
  credentialsOf(user: object | UserId): Record<string, unknown>;

  /** The user's current session token; null when the user does not exist or has none yet. */
  getSessionToken(userId: UserId): Promise<string | null>;
  /** The user's session token and the named credential values in one read; null when the user does not exist. */
  getUser(userId: UserId, credentials: string[]): Promise<UserSnapshot | null>;
  /**
   * Gives a user without a session token (rows from before adoption) a fresh one. Returns the
   * current token (null when the user does not exist) and whether it was created now.
   */
  ensureSessionToken(userId: UserId): Promise<{ sessionToken: string | null; created: boolean }>;
  /** Replaces the user's session token with a new random one. */
  rotateSessionToken(userId: UserId): Promise<void>;

  /** Stores a new session. */
  createSession(session: SessionRecord): Promise<void>;
  /** One session by id; null when unknown. */
  findSession(sessionId: string): Promise<SessionRecord | null>;
  /** The user's sessions that were not ended (expired ones included), newest first. */
  listOpenSessions(userId: UserId): Promise<SessionRecord[]>;
  /** Changes fields of a session. */
  updateSession(sessionId: string, changes: SessionChanges): Promise<void>;
  /** Ends one session if it is open (and belongs to `userId` when given); true if this call ended it. */
  endSession(sessionId: string, end: { reason: string; at: number; userId?: UserId }): Promise<boolean>;
  /** Ends every open session of a user, except one if given; returns how many it ended. */
  endUserSessions(userId: UserId, end: { reason: string; at: number; except?: string }): Promise<number>;

  /** Stores a new refresh token. */
  addRefreshToken(token: RefreshTokenRecord): Promise<void>;
  /** Marks an unused refresh token used, atomically: true only for the one caller that did. */
  consumeRefreshToken(tokenHash: string, at: number): Promise<boolean>;
  /** One refresh token by hash; null when unknown. */
  findRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | null>;
  /** Marks every unused refresh token of a session used (after a renewal). */
  retireRefreshTokens(sessionId: string, at: number): Promise<void>;

  /** Whether a user is blocked. */
  isBlocked(userId: UserId): Promise<boolean>;
  /** Blocks a user (a time) or lifts the block (null). */
  setBlocked(userId: UserId, blockedAt: number | null): Promise<void>;

  /** The revocation epoch: sessions created at or before it are ended. 0 when never set. */
  getEpoch(): Promise<number>;
  /** Moves the revocation epoch. */
  setEpoch(epoch: number): Promise<void>;
}

/** Injection token of the {@link SessionStore} (the same name, as `@nestjs/throttler` does with its storage). */
export const SessionStore = Symbol('SessionStore');
