import { IsNull, Not, type DataSource, type EntityMetadata, type FindOptionsWhere, type Repository } from 'typeorm';
import { AuthRefreshToken, AuthRevocationEpoch, AuthSession, AuthUserState } from './entities/index.js';
import type { UserId } from '../interfaces/session-context.interface.js';
import { getRevokingProperties, getSessionTokenProperty } from './entity-metadata.js';
import { randomTokenSql, sqlDialect } from './session-token-sql.js';
import { newSessionToken } from '../utils/crypto.js';
import { SESSION_ID_PATTERN } from '../session-revocation.constants.js';

const NUMERIC_TYPES = ['int', 'integer', 'bigint', 'smallint', 'int2', 'int4', 'int8', 'numeric', 'decimal', 'tinyint', 'mediumint'];

/**
 * All SQL the library runs, in one place. Every method is a fixed, small number of
 * statements whatever the number of sessions.
 * @internal
 */
export class SessionStore {
  readonly users: EntityMetadata;
  readonly tokenColumn: string;
  private readonly numericUserId: boolean;
  private readonly maxUserId: number;
  private readonly uuidUserId: boolean;
  private readonly sessions: Repository<AuthSession>;
  private readonly refreshTokens: Repository<AuthRefreshToken>;
  private readonly userStates: Repository<AuthUserState>;
  private readonly epochs: Repository<AuthRevocationEpoch>;

  constructor(private readonly dataSource: DataSource, userEntity: Function) {
    for (const entity of [AuthSession, AuthRefreshToken, AuthUserState, AuthRevocationEpoch]) {
      if (!dataSource.hasMetadata(entity)) {
        throw new Error(
          `SessionRevocationModule: the DataSource does not know ${entity.name}; add SESSION_REVOCATION_ENTITIES to its 'entities'`,
        );
      }
    }
    if (!dataSource.hasMetadata(userEntity)) {
      throw new Error(`SessionRevocationModule: option 'userEntity' (${userEntity.name}) is not an entity of the DataSource`);
    }
    this.users = dataSource.getMetadata(userEntity);
    if (this.users.primaryColumns.length !== 1) {
      throw new Error(`SessionRevocationModule: option 'userEntity' (${userEntity.name}) needs a single-column primary key`);
    }
    this.tokenColumn = getSessionTokenProperty(userEntity)!;
    const pk = this.users.primaryColumns[0];
    const dbType = String(pk.type === Number ? 'integer' : pk.type).toLowerCase();
    this.numericUserId = pk.type === Number || NUMERIC_TYPES.includes(dbType);
    this.uuidUserId = dbType === 'uuid';
    // Ids a column cannot hold are refused before any query (PostgreSQL/MySQL integers are 32-bit).
    const sqlite = sqlDialect(dataSource) === 'sqlite';
    this.maxUserId = sqlite || /big|int8|numeric|decimal/.test(dbType) ? Number.MAX_SAFE_INTEGER : /small|int2/.test(dbType) ? 32767 : 2147483647;
    this.sessions = dataSource.getRepository(AuthSession);
    this.refreshTokens = dataSource.getRepository(AuthRefreshToken);
    this.userStates = dataSource.getRepository(AuthUserState);
    this.epochs = dataSource.getRepository(AuthRevocationEpoch);
  }

  /** Parses a `sub` claim back into the entity's id type; undefined when it cannot be an id. */
  parseUserId(sub: unknown): UserId | undefined {
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > 64) return undefined;
    if (this.uuidUserId) return SESSION_ID_PATTERN.test(sub) ? sub : undefined;
    // eslint-disable-next-line no-control-regex
    if (!this.numericUserId) return /[\u0000-\u001f]/.test(sub) ? undefined : sub;
    if (!/^[1-9]\d{0,15}$/.test(sub)) return undefined;
    const id = Number(sub);
    return Number.isSafeInteger(id) && id <= this.maxUserId ? id : undefined;
  }

  /** The primary key of a user entity object, or the id itself. */
  userIdOf(user: unknown): UserId {
    if (typeof user === 'string' || typeof user === 'number') return user;
    const id = user && typeof user === 'object' ? this.users.primaryColumns[0].getEntityValue(user as object) : undefined;
    if (id === undefined || id === null) throw new Error('SessionService: the user has no primary key value');
    return id;
  }

  /** The user's current session token; null when the user does not exist. */
  async getUserToken(userId: UserId): Promise<string | null> {
    const alias = 'u';
    const row = await this.dataSource
      .createQueryBuilder()
      .select(`${alias}.${this.tokenColumn}`, 'token')
      .from(this.users.target, alias)
      .where(`${alias}.${this.users.primaryColumns[0].propertyName} = :id`, { id: userId })
      .getRawOne<{ token: string | null }>();
    return row ? row.token : null;
  }

  /**
   * The user's session token and the given columns, read in one statement (entity values,
   * transformers applied); null when the user does not exist.
   */
  async getUserState(userId: UserId, properties: string[]): Promise<{ token: string | null; values: Record<string, unknown> } | null> {
    const pk = this.users.primaryColumns[0].propertyName;
    const row = await this.dataSource
      .createQueryBuilder(this.users.target, 'u')
      .select([...new Set([pk, this.tokenColumn, ...properties])].map((p) => `u.${p}`))
      .where(`u.${pk} = :id`, { id: userId })
      .getOne();
    if (!row) return null;
    const values = row as Record<string, unknown>;
    return { token: (values[this.tokenColumn] as string | null | undefined) ?? null, values };
  }

  /** The `@RevokesSessions()` values an entity object carries (what its credentials were checked against). */
  revokingValuesOf(user: unknown): Record<string, unknown> {
    if (!user || typeof user !== 'object') return {};
    const values: Record<string, unknown> = {};
    for (const property of getRevokingProperties(this.users.target as Function)) {
      const value = (user as Record<string, unknown>)[property];
      if (value !== undefined) values[property] = value;
    }
    return values;
  }

  /**
   * Gives a user without a session token (e.g. rows created before adoption) a fresh one;
   * returns the current token either way, or null when the user does not exist.
   */
  async ensureUserToken(userId: UserId): Promise<{ token: string | null; created: boolean }> {
    const token = await this.getUserToken(userId);
    if (token !== null) return { token, created: false };
    await this.dataSource
      .createQueryBuilder()
      .update(this.users.target)
      .set({ [this.tokenColumn]: newSessionToken() })
      .where({ [this.users.primaryColumns[0].propertyName]: userId, [this.tokenColumn]: IsNull() })
      .callListeners(false) // the subscriber drops plain token values from updates; the service announces it
      .execute();
    return { token: await this.getUserToken(userId), created: true };
  }

  /** Regenerates the user's session token (one UPDATE). */
  async rotateUserToken(userId: UserId): Promise<void> {
    const dialect = sqlDialect(this.dataSource);
    const value = dialect ? () => randomTokenSql(dialect) : newSessionToken();
    await this.dataSource
      .createQueryBuilder()
      .update(this.users.target)
      .set({ [this.tokenColumn]: value })
      .where({ [this.users.primaryColumns[0].propertyName]: userId })
      .callListeners(false) // the service announces this revocation itself
      .execute();
  }

  createSession(session: AuthSession): Promise<AuthSession> {
    return this.sessions.save(session);
  }

  findSession(sessionId: string): Promise<AuthSession | null> {
    return this.sessions.findOneBy({ id: sessionId });
  }

  async listLiveSessions(userId: UserId, now: number, revokedBefore: number): Promise<AuthSession[]> {
    return this.sessions
      .createQueryBuilder('s')
      .where('s.userId = :userId', { userId: String(userId) })
      .andWhere('s.revokedAt IS NULL')
      .andWhere('s.expiresAt > :now', { now })
      .andWhere('s.createdAt > :revokedBefore', { revokedBefore })
      .orderBy('s.createdAt', 'DESC')
      .getMany();
  }

  async touchSession(sessionId: string, now: number): Promise<void> {
    await this.sessions.update({ id: sessionId }, { lastSeenAt: now });
  }

  async updateSession(sessionId: string, changes: Partial<AuthSession>): Promise<void> {
    await this.sessions.update({ id: sessionId }, changes);
  }

  /** Ends one session if it is live and belongs to the user; returns whether it did. */
  async revokeSession(sessionId: string, userId: UserId | undefined, reason: string, now: number): Promise<boolean> {
    const where: FindOptionsWhere<AuthSession> = { id: sessionId, revokedAt: IsNull() };
    if (userId !== undefined) where.userId = String(userId);
    const result = await this.sessions.update(where, { revokedAt: now, revokedReason: reason });
    return (result.affected ?? 0) > 0;
  }

  /** Ends every live session of a user, except one if given (one UPDATE). */
  async revokeUserSessions(userId: UserId, reason: string, now: number, except?: string): Promise<number> {
    const where: FindOptionsWhere<AuthSession> = { userId: String(userId), revokedAt: IsNull() };
    if (except) where.id = Not(except);
    const result = await this.sessions.update(where, { revokedAt: now, revokedReason: reason });
    return result.affected ?? 0;
  }

  async addRefreshToken(token: AuthRefreshToken): Promise<void> {
    await this.refreshTokens.insert(token);
  }

  /** Atomically marks a refresh token used; true only for the one caller that did. */
  async consumeRefreshToken(tokenHash: string, now: number): Promise<boolean> {
    const result = await this.refreshTokens.update({ tokenHash, usedAt: IsNull() }, { usedAt: now });
    return result.affected === 1;
  }

  findRefreshToken(tokenHash: string): Promise<AuthRefreshToken | null> {
    return this.refreshTokens.findOneBy({ tokenHash });
  }

  /** Marks every unused refresh token of a session used (after a renewal). */
  async retireRefreshTokens(sessionId: string, now: number): Promise<void> {
    await this.refreshTokens.update({ sessionId, usedAt: IsNull() }, { usedAt: now });
  }

  async isBlocked(userId: UserId): Promise<boolean> {
    const state = await this.userStates.findOneBy({ userId: String(userId) });
    return !!state?.blockedAt;
  }

  async setBlocked(userId: UserId, blockedAt: number | null): Promise<void> {
    await this.userStates.upsert({ userId: String(userId), blockedAt }, ['userId']);
  }

  async getRevokedBefore(): Promise<number> {
    const row = await this.epochs.findOneBy({ id: 'global' });
    return row?.revokedBefore ?? 0;
  }

  async setRevokedBefore(revokedBefore: number): Promise<void> {
    await this.epochs.upsert({ id: 'global', revokedBefore }, ['id']);
  }
}
