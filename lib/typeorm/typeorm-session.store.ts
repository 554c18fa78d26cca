import { IsNull, Not, type DataSource, type FindOptionsWhere, type Repository } from 'typeorm';
import type { UserId } from '../interfaces/session-context.interface.js';
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
} from '../storage/session-store.interface.js';
import { AuthRefreshToken, AuthRevocationEpoch, AuthSession, AuthUserState, SESSION_REVOCATION_ENTITIES } from './entities/index.js';
import { GLOBAL_EPOCH_ID } from './entities/auth-revocation-epoch.entity.js';
import { TypeOrmPolicyTables } from './typeorm-policy-tables.js';
import { affected, read, write } from './typeorm-queries.js';
import { TypeOrmSessionStateQueries } from './typeorm-session-state.js';
import { TypeOrmUserTable } from './typeorm-user-table.js';


/**
 * The default {@link SessionStore}: the library's tables (`SESSION_REVOCATION_ENTITIES`) and
 * the app's user table, on the app's TypeORM DataSource. Every method is one or two statements
 * whatever the number of sessions. A failing query throws `SessionStoreUnavailableError`, except a
 * value the column cannot hold (SQLSTATE class 22) in a read, which reads as "not found".
 */
export class TypeOrmSessionStore implements SessionStore {
  private readonly users: TypeOrmUserTable;
  private readonly sessions: Repository<AuthSession>;
  private readonly refreshTokens: Repository<AuthRefreshToken>;
  private readonly userStates: Repository<AuthUserState>;
  private readonly epochs: Repository<AuthRevocationEpoch>;
  private readonly policy: TypeOrmPolicyTables;
  private readonly state: TypeOrmSessionStateQueries;

  /**
   * @param dataSource the app's initialized DataSource, with `SESSION_REVOCATION_ENTITIES` among its entities
   * @param userEntity the app's user entity (with a `@SessionTokenColumn()`)
   */
  constructor(dataSource: DataSource, userEntity: Function) {
    for (const entity of SESSION_REVOCATION_ENTITIES) {
      if (!dataSource.hasMetadata(entity)) {
        throw new Error(`SessionRevocationModule: the DataSource does not know ${entity.name}; add SESSION_REVOCATION_ENTITIES to its 'entities'`);
      }
    }
    this.users = new TypeOrmUserTable(dataSource, userEntity);
    this.sessions = dataSource.getRepository(AuthSession);
    this.refreshTokens = dataSource.getRepository(AuthRefreshToken);
    this.userStates = dataSource.getRepository(AuthUserState);
    this.epochs = dataSource.getRepository(AuthRevocationEpoch);
    this.policy = new TypeOrmPolicyTables(dataSource);
    this.state = new TypeOrmSessionStateQueries(dataSource, this.users);
  }

  parseUserId(sub: unknown): UserId | undefined {
    return this.users.parseUserId(sub);
  }

  userIdOf(user: object | UserId): UserId {
    return this.users.userIdOf(user);
  }

  credentialsOf(user: object | UserId): Record<string, unknown> {
    return this.users.credentialsOf(user);
  }

  getSessionToken(userId: UserId): Promise<string | null> {
    return read(() => this.users.getSessionToken(userId), null);
  }

  getUser(userId: UserId, credentials: string[]): Promise<UserSnapshot | null> {
    return read(() => this.users.getUser(userId, credentials), null);
  }

  ensureSessionToken(userId: UserId): Promise<{ sessionToken: string | null; created: boolean }> {
    return read(() => this.users.ensureSessionToken(userId), { sessionToken: null, created: false });
  }

  rotateSessionToken(userId: UserId): Promise<void> {
    return write(() => this.users.rotateSessionToken(userId));
  }

  createSession(session: SessionRecord): Promise<void> {
    // A copy: insert() writes returned defaults (raw, untransformed) back into its argument.
    return write(async () => void (await this.sessions.insert({ ...session } as AuthSession)));
  }

  findSession(sessionId: string): Promise<SessionRecord | null> {
    return read(() => this.sessions.findOneBy({ id: sessionId }), null);
  }

  readSessionState(sessionId: string, userId: UserId): Promise<SessionState> {
    return read(() => this.state.readSessionState(sessionId, userId), { session: null, sessionToken: null, epoch: 0 });
  }

  touchSessions(sessionIds: string[], lastSeenAt: number): Promise<void> {
    return write(() => this.state.touchSessions(sessionIds, lastSeenAt));
  }

  /** The SQL text of {@link readSessionState}, built once (for diagnostics and the benchmark). */
  get readSessionStateSql(): string {
    return this.state.readSessionStateSql;
  }

  listOpenSessions(userId: UserId): Promise<SessionRecord[]> {
    return read(() => this.sessions.find({ where: { userId: String(userId), endedAt: IsNull() }, order: { createdAt: 'DESC' } }), []);
  }

  updateSession(sessionId: string, changes: SessionChanges): Promise<void> {
    return write(async () => void (await this.sessions.update({ id: sessionId }, changes as Partial<AuthSession>)));
  }

  endSession(sessionId: string, end: { reason: string; at: number; userId?: UserId }): Promise<boolean> {
    const where: FindOptionsWhere<AuthSession> = { id: sessionId, endedAt: IsNull() };
    if (end.userId !== undefined) where.userId = String(end.userId);
    return write(async () => affected(await this.sessions.update(where, { endedAt: end.at, endReason: end.reason })) > 0);
  }

  endUserSessions(userId: UserId, end: { reason: string; at: number; except?: string }): Promise<number> {
    const where: FindOptionsWhere<AuthSession> = { userId: String(userId), endedAt: IsNull() };
    if (end.except) where.id = Not(end.except);
    return write(async () => affected(await this.sessions.update(where, { endedAt: end.at, endReason: end.reason })));
  }

  addRefreshToken(token: RefreshTokenRecord): Promise<void> {
    return write(async () => void (await this.refreshTokens.insert(token)));
  }

  consumeRefreshToken(tokenHash: string, at: number): Promise<boolean> {
    // Compare-and-set in one UPDATE: of any number of concurrent calls, one sees a row affected.
    return write(async () => affected(await this.refreshTokens.update({ tokenHash, usedAt: IsNull() }, { usedAt: at })) === 1);
  }

  findRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | null> {
    return read(() => this.refreshTokens.findOneBy({ tokenHash }), null);
  }

  retireRefreshTokens(sessionId: string, at: number): Promise<void> {
    return write(async () => void (await this.refreshTokens.update({ sessionId, usedAt: IsNull() }, { usedAt: at })));
  }

  isBlocked(userId: UserId): Promise<boolean> {
    return read(async () => !!(await this.userStates.findOneBy({ userId: String(userId) }))?.blockedAt, false);
  }

  setBlocked(userId: UserId, blockedAt: number | null): Promise<void> {
    return write(async () => void (await this.userStates.upsert({ userId: String(userId), blockedAt }, ['userId'])));
  }

  getEpoch(): Promise<number> {
    return read(async () => (await this.epochs.findOneBy({ id: GLOBAL_EPOCH_ID }))?.epoch ?? 0, 0);
  }

  setEpoch(epoch: number): Promise<void> {
    return write(async () => void (await this.epochs.upsert({ id: GLOBAL_EPOCH_ID, epoch }, ['id'])));
  }

  recordFailedAttempt(key: string, at: number, windowStart: number): Promise<AttemptRecord> {
    return this.policy.recordFailedAttempt(key, at, windowStart);
  }

  getAttempts(key: string): Promise<AttemptRecord | null> {
    return this.policy.getAttempts(key);
  }

  clearAttempts(key: string): Promise<void> {
    return this.policy.clearAttempts(key);
  }

  addActivity(entry: ActivityRecord): Promise<void> {
    return this.policy.addActivity(entry);
  }

  listActivity(userId: UserId, limit: number): Promise<ActivityRecord[]> {
    return this.policy.listActivity(userId, limit);
  }

  prune(cutoff: PruneCutoff, limit: number): Promise<PruneCounts> {
    return this.policy.prune(cutoff, limit);
  }

  runExclusive(name: string, task: () => Promise<void>): Promise<boolean> {
    return this.policy.runExclusive(name, task);
  }
}
