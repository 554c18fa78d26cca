import type { UserId } from '../interfaces/session-context.interface.js';
import { newSessionToken } from '../utils/crypto.js';
import type {
  ActivityRecord,
  AttemptRecord,
  PruneCounts,
  PruneCutoff,
  RefreshTokenRecord,
  SessionChanges,
  SessionRecord,
  SessionState,
  SessionStore,
  UserSnapshot,
} from './session-store.interface.js';

interface MemoryUser {
  id: UserId;
  sessionToken: string | null;
  blockedAt: number | null;
}

/**
 * A {@link SessionStore} in process memory: for unit tests of an app's controllers without a
 * database, and for single-process demos. Nothing survives a restart and nothing is shared between
 * instances, so do not use it in production.
 *
 * The app's users are not in a table here: a user exists once it was added with {@link addUser}
 * (or, by default, once a session was issued for it). Credential-change detection
 * (`@RevokesSessions()`) needs the TypeORM store; with this one, end sessions explicitly with
 * `SessionService.invalidateSessions()`.
 *
 * ```ts
 * SessionRevocationModule.forRoot({ store: new MemorySessionStore(), jwt: { secret } })
 * ```
 */
export class MemorySessionStore implements SessionStore {
  private readonly users = new Map<string, MemoryUser>();
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  private readonly attempts = new Map<string, AttemptRecord>();
  private activityLog: ActivityRecord[] = [];
  private readonly running = new Set<string>();
  private epoch = 0;

  /**
   * @param options.autoCreateUsers whether an unknown user id is added on first use (default true);
   *   with false, only users given to {@link addUser} can log in.
   */
  constructor(private readonly options: { autoCreateUsers?: boolean } = {}) {}

  /** Adds a user (with a fresh session token); returns its id. */
  addUser(id: UserId): UserId {
    if (!this.users.has(String(id))) this.users.set(String(id), { id, sessionToken: newSessionToken(), blockedAt: null });
    return id;
  }

  /** Removes a user: every token of theirs is refused from then on. */
  removeUser(id: UserId): void {
    this.users.delete(String(id));
  }

  parseUserId(sub: unknown): UserId | undefined {
    return typeof sub === 'string' ? this.users.get(sub)?.id : undefined;
  }

  userIdOf(user: object | UserId): UserId {
    if (typeof user === 'string' || typeof user === 'number') return user;
    const id = (user as { id?: unknown })?.id;
    if (typeof id !== 'string' && typeof id !== 'number') throw new TypeError('MemorySessionStore: the user object has no id');
    return id;
  }

  credentialsOf(): Record<string, unknown> {
    return {};
  }

  async getSessionToken(userId: UserId): Promise<string | null> {
    return this.user(userId)?.sessionToken ?? null;
  }

  async getUser(userId: UserId): Promise<UserSnapshot | null> {
    const user = this.user(userId);
    return user ? { sessionToken: user.sessionToken, credentials: {} } : null;
  }

  async ensureSessionToken(userId: UserId): Promise<{ sessionToken: string | null; created: boolean }> {
    const known = this.user(userId);
    if (known?.sessionToken) return { sessionToken: known.sessionToken, created: false };
    if (!known && this.options.autoCreateUsers === false) return { sessionToken: null, created: false };
    const user = known ?? { id: userId, sessionToken: null, blockedAt: null };
    user.sessionToken = newSessionToken();
    this.users.set(String(userId), user);
    return { sessionToken: user.sessionToken, created: true };
  }

  async rotateSessionToken(userId: UserId): Promise<void> {
    const user = this.user(userId);
    if (user) user.sessionToken = newSessionToken();
  }

  async createSession(session: SessionRecord): Promise<void> {
    this.sessions.set(session.id, { ...session });
  }

  async findSession(sessionId: string): Promise<SessionRecord | null> {
    const session = this.sessions.get(sessionId);
    return session ? { ...session } : null;
  }

  async readSessionState(sessionId: string, userId: UserId): Promise<SessionState> {
    const session = this.sessions.get(sessionId);
    return { session: session ? { ...session } : null, sessionToken: this.user(userId)?.sessionToken ?? null, epoch: this.epoch };
  }

  async touchSessions(sessionIds: string[], lastSeenAt: number): Promise<void> {
    for (const id of sessionIds) {
      const session = this.sessions.get(id);
      if (session && session.lastSeenAt < lastSeenAt) session.lastSeenAt = lastSeenAt;
    }
  }

  async listOpenSessions(userId: UserId): Promise<SessionRecord[]> {
    return [...this.sessions.values()]
      .filter((s) => s.userId === String(userId) && s.endedAt === null)
      .sort((a, b) => b.createdAt - a.createdAt)
      .map((s) => ({ ...s }));
  }

  async updateSession(sessionId: string, changes: SessionChanges): Promise<void> {
    const session = this.sessions.get(sessionId);
    if (session) Object.assign(session, changes);
  }

  async endSession(sessionId: string, end: { reason: string; at: number; userId?: UserId }): Promise<boolean> {
    const session = this.sessions.get(sessionId);
    if (!session || session.endedAt !== null || (end.userId !== undefined && session.userId !== String(end.userId))) return false;
    session.endedAt = end.at;
    session.endReason = end.reason;
    return true;
  }

  async endUserSessions(userId: UserId, end: { reason: string; at: number; except?: string }): Promise<number> {
    let ended = 0;
    for (const session of this.sessions.values()) {
      if (session.userId !== String(userId) || session.endedAt !== null || session.id === end.except) continue;
      session.endedAt = end.at;
      session.endReason = end.reason;
      ended++;
    }
    return ended;
  }

  async addRefreshToken(token: RefreshTokenRecord): Promise<void> {
    this.refreshTokens.set(token.tokenHash, { ...token });
  }

  async consumeRefreshToken(tokenHash: string, at: number): Promise<boolean> {
    // Synchronous test-and-set: no await between the read and the write, so one caller wins.
    const token = this.refreshTokens.get(tokenHash);
    if (!token || token.usedAt !== null) return false;
    token.usedAt = at;
    return true;
  }

  async findRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | null> {
    const token = this.refreshTokens.get(tokenHash);
    return token ? { ...token } : null;
  }

  async retireRefreshTokens(sessionId: string, at: number): Promise<void> {
    for (const token of this.refreshTokens.values()) if (token.sessionId === sessionId && token.usedAt === null) token.usedAt = at;
  }

  async isBlocked(userId: UserId): Promise<boolean> {
    return !!this.user(userId)?.blockedAt;
  }

  async setBlocked(userId: UserId, blockedAt: number | null): Promise<void> {
    const user = this.user(userId);
    if (user) user.blockedAt = blockedAt;
  }

  async getEpoch(): Promise<number> {
    return this.epoch;
  }

  async setEpoch(epoch: number): Promise<void> {
    this.epoch = epoch;
  }

  async recordFailedAttempt(key: string, at: number, windowStart: number): Promise<AttemptRecord> {
    const known = this.attempts.get(key);
    const record = known && known.firstAt >= windowStart ? { ...known, failures: known.failures + 1, lastAt: at } : { key, failures: 1, firstAt: at, lastAt: at };
    this.attempts.set(key, record);
    return { ...record };
  }

  async getAttempts(key: string): Promise<AttemptRecord | null> {
    const record = this.attempts.get(key);
    return record ? { ...record } : null;
  }

  async clearAttempts(key: string): Promise<void> {
    this.attempts.delete(key);
  }

  async addActivity(entry: ActivityRecord): Promise<void> {
    this.activityLog.push({ ...entry });
  }

  async listActivity(userId: UserId, limit: number): Promise<ActivityRecord[]> {
    const found: ActivityRecord[] = [];
    const log = [...this.activityLog].sort((a, b) => a.at - b.at); // stable: inserts keep their order within one time
    for (let i = log.length - 1; i >= 0 && found.length < limit; i--) if (log[i].userId === String(userId)) found.push({ ...log[i] });
    return found;
  }

  async prune(cutoff: PruneCutoff, limit: number): Promise<PruneCounts> {
    const over = (s: SessionRecord) =>
      (s.endedAt ?? Infinity) < cutoff.before || s.expiresAt < cutoff.before || s.absoluteExpiresAt < cutoff.before || s.lastSeenAt < cutoff.lastSeenBefore;
    const pruned = new Set([...this.sessions.values()].filter(over).slice(0, limit).map((s) => s.id));
    for (const id of pruned) this.sessions.delete(id);
    for (const [hash, token] of this.refreshTokens) if (pruned.has(token.sessionId)) this.refreshTokens.delete(hash);
    const expired = [...this.refreshTokens.values()].filter((t) => t.expiresAt < cutoff.before).slice(0, limit);
    for (const token of expired) this.refreshTokens.delete(token.tokenHash);
    const stale = [...this.attempts.values()].filter((a) => a.lastAt < cutoff.attemptsBefore).slice(0, limit);
    for (const record of stale) this.attempts.delete(record.key);
    const before = cutoff.activityBefore ?? -Infinity;
    const old = new Set(this.activityLog.filter((entry) => entry.at < before).slice(0, limit));
    this.activityLog = this.activityLog.filter((entry) => !old.has(entry));
    return { sessions: pruned.size, refreshTokens: expired.length, attempts: stale.length, activity: old.size };
  }

  async runExclusive(name: string, task: () => Promise<void>): Promise<boolean> {
    if (this.running.has(name)) return false;
    this.running.add(name);
    try {
      await task();
      return true;
    } finally {
      this.running.delete(name);
    }
  }

  private user(userId: UserId): MemoryUser | undefined {
    return this.users.get(String(userId));
  }
}
