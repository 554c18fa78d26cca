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
  /** Last authenticated request (written at most once per `lastSeenInterval`); the idle timeout counts from it. */
  lastSeenAt: number;
  /** When the user last proved a credential in this session (login, re-authentication): `auth_time`. */
  authTime: number;
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

/** The fields of a session the per-request check reads: all but the client facts, the end reason and the app's claims. */
export type SessionCheckRecord = Omit<SessionRecord, 'userAgent' | 'ip' | 'endReason' | 'claims'>;

/** What the per-request check reads on a cache miss: everything it needs, in one round trip. */
export interface SessionState {
  /** The session (a store may return the whole record); null when unknown. */
  session: SessionCheckRecord | null;
  /** The user's current session token; null when the user does not exist or has none yet. */
  sessionToken: string | null;
  /** The revocation epoch (as {@link SessionStore.getEpoch}). */
  epoch: number;
}

/** Fields of a session the library changes after creating it. */
export type SessionChanges = Partial<Pick<SessionRecord, 'sessionTokenFingerprint' | 'lastSeenAt' | 'expiresAt' | 'claims' | 'authTime'>>;

/** Failed attempts counted under one key (an account, an IP) since a series began. */
export interface AttemptRecord {
  /** The counting key (the library passes keyed hashes, never raw emails or addresses). */
  key: string;
  /** Failures in the current series. */
  failures: number;
  /** First failure of the series. */
  firstAt: number;
  /** Latest failure. */
  lastAt: number;
}

/** One entry of a user's security activity log: a session event, without tokens or hashes. */
export interface ActivityRecord {
  /** The user's primary key, as text. */
  userId: string;
  /** The event type (`login`, `login-failed`, `logout`, `session-limit`, ...). */
  type: string;
  /** When it happened. */
  at: number;
  /** The session concerned, when one is. */
  sessionId: string | null;
  /** Why, e.g. `password-change`. */
  reason: string | null;
  /** Client IP, when known. */
  ip: string | null;
  /** Client user agent, when known. */
  userAgent: string | null;
}

/** What one pruning batch deletes: rows over since before these times (ms). */
export interface PruneCutoff {
  /** Sessions ended, expired (sliding or absolute) before this; refresh tokens expired before it. */
  before: number;
  /** Sessions whose `lastSeenAt` is older than this (idle for good). */
  lastSeenBefore: number;
  /** Failed-attempt series whose latest failure is older than this. */
  attemptsBefore: number;
  /** Activity entries older than this; undefined: keep them all. */
  activityBefore?: number;
}

/** How many rows one pruning batch deleted, per kind. */
export interface PruneCounts {
  /** Sessions deleted (with all their refresh tokens, which are not counted again). */
  sessions: number;
  /** Expired refresh tokens of sessions still stored, deleted. */
  refreshTokens: number;
  /** Failed-attempt series deleted. */
  attempts: number;
  /** Activity entries deleted. */
  activity: number;
}

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
  /**
   * The session, the session token of `userId` and the revocation epoch, read together: what a
   * request needs when the cache cannot answer. ONE round trip (one statement on SQL stores): it
   * runs on every cache miss, and on every request in strict mode.
   */
  readSessionState(sessionId: string, userId: UserId): Promise<SessionState>;
  /**
   * Moves `lastSeenAt` of these sessions forward to `lastSeenAt` (a session already seen later keeps
   * its value); unknown ids are ignored. One statement per call (per 1,000 ids on SQL stores): the
   * library batches the writes of many requests into it.
   */
  touchSessions(sessionIds: string[], lastSeenAt: number): Promise<void>;
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

  /**
   * Counts one failed attempt under `key`, atomically (parallel calls all count). A series whose
   * first failure is older than `windowStart` starts over at 1. Returns the record after it.
   */
  recordFailedAttempt(key: string, at: number, windowStart: number): Promise<AttemptRecord>;
  /** The failed attempts counted under `key`; null when none. */
  getAttempts(key: string): Promise<AttemptRecord | null>;
  /** Forgets the failed attempts of `key` (after a correct password). */
  clearAttempts(key: string): Promise<void>;

  /** Appends an entry to a user's activity log. */
  addActivity(entry: ActivityRecord): Promise<void>;
  /** A user's latest activity entries, newest first (ties: the later insert first). */
  listActivity(userId: UserId, limit: number): Promise<ActivityRecord[]>;

  /**
   * One bounded pruning batch: deletes at most `limit` rows of each kind over since the cutoff,
   * sessions together with all their refresh tokens. The caller repeats while a kind hit `limit`.
   */
  prune(cutoff: PruneCutoff, limit: number): Promise<PruneCounts>;
  /**
   * Runs `task` unless another instance runs one under the same name right now (a database
   * advisory lock where there is one). Resolves true when `task` ran here.
   */
  runExclusive(name: string, task: () => Promise<void>): Promise<boolean>;
}

/** Injection token of the {@link SessionStore} (the same name, as `@nestjs/throttler` does with its storage). */
export const SessionStore = Symbol('SessionStore');
