import { IsNull, type DataSource, type EntityMetadata } from 'typeorm';
import type { UserId } from '../interfaces/session-context.interface.js';
import { SESSION_ID_PATTERN } from '../session-revocation.constants.js';
import type { UserSnapshot } from '../storage/session-store.interface.js';
import { newSessionToken } from '../utils/crypto.js';
import { getRevokingProperties, getSessionTokenProperty } from './entity-metadata.js';
import { randomTokenSql, sqlDialect } from './session-token-sql.js';
import { userIdKind } from './data-source-checks.js';

/**
 * The app's own user table, as far as the library needs it: the id mapping, the
 * `@SessionTokenColumn()` and the `@RevokesSessions()` values.
 * @internal
 */
export class TypeOrmUserTable {
  readonly metadata: EntityMetadata;
  /** The `@SessionTokenColumn()` property. */
  readonly tokenProperty: string;
  /** The primary key property. */
  readonly pkProperty: string;
  private readonly numericId: boolean;
  private readonly uuidId: boolean;
  private readonly maxId: number;

  constructor(
    private readonly dataSource: DataSource,
    userEntity: Function,
  ) {
    if (!dataSource.hasMetadata(userEntity)) {
      throw new Error(`SessionRevocationModule: option 'userEntity' (${userEntity.name}) is not an entity of the DataSource`);
    }
    this.metadata = dataSource.getMetadata(userEntity);
    if (this.metadata.primaryColumns.length !== 1) {
      throw new Error(`SessionRevocationModule: option 'userEntity' (${userEntity.name}) needs a single-column primary key`);
    }
    this.tokenProperty = getSessionTokenProperty(userEntity)!;
    const pk = this.metadata.primaryColumns[0];
    this.pkProperty = pk.propertyName;
    const dbType = String(pk.type === Number ? 'integer' : pk.type).toLowerCase();
    const kind = userIdKind(this.metadata);
    this.numericId = kind === 'number';
    this.uuidId = kind === 'uuid';
    // Ids a column cannot hold are refused before any query (PostgreSQL/MySQL integers are 32-bit).
    const sqlite = sqlDialect(dataSource) === 'sqlite';
    this.maxId = sqlite || /big|int8|numeric|decimal/.test(dbType) ? Number.MAX_SAFE_INTEGER : /small|int2/.test(dbType) ? 32767 : 2147483647;
  }

  parseUserId(sub: unknown): UserId | undefined {
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > 64) return undefined;
    if (this.uuidId) return SESSION_ID_PATTERN.test(sub) ? sub : undefined;
    // eslint-disable-next-line no-control-regex
    if (!this.numericId) return /[\u0000-\u001f]/.test(sub) ? undefined : sub;
    if (!/^[1-9]\d{0,15}$/.test(sub)) return undefined;
    const id = Number(sub);
    return Number.isSafeInteger(id) && id <= this.maxId ? id : undefined;
  }

  userIdOf(user: object | UserId): UserId {
    if (typeof user === 'string' || typeof user === 'number') return user;
    const id = user && typeof user === 'object' ? this.metadata.primaryColumns[0].getEntityValue(user) : undefined;
    if (id === undefined || id === null) throw new TypeError('SessionService: the user has no primary key value');
    return id;
  }

  credentialsOf(user: object | UserId): Record<string, unknown> {
    if (!user || typeof user !== 'object') return {};
    const values: Record<string, unknown> = {};
    for (const property of getRevokingProperties(this.metadata.target as Function)) {
      const value = (user as Record<string, unknown>)[property];
      if (value !== undefined) values[property] = value;
    }
    return values;
  }

  async getSessionToken(userId: UserId): Promise<string | null> {
    const row = await this.dataSource
      .createQueryBuilder()
      .select(`u.${this.tokenProperty}`, 'token')
      .from(this.metadata.target, 'u')
      .where(`u.${this.pkProperty} = :id`, { id: userId })
      .getRawOne<{ token: string | null }>();
    return row ? row.token : null;
  }

  async getUser(userId: UserId, credentials: string[]): Promise<UserSnapshot | null> {
    const row = await this.dataSource
      .createQueryBuilder(this.metadata.target, 'u')
      .select([...new Set([this.pkProperty, this.tokenProperty, ...credentials])].map((p) => `u.${p}`))
      .where(`u.${this.pkProperty} = :id`, { id: userId })
      .getOne();
    if (!row) return null;
    const values = row as Record<string, unknown>;
    const picked = Object.fromEntries(credentials.map((key) => [key, values[key]]));
    return { sessionToken: (values[this.tokenProperty] as string | null | undefined) ?? null, credentials: picked };
  }

  async ensureSessionToken(userId: UserId): Promise<{ sessionToken: string | null; created: boolean }> {
    const token = await this.getSessionToken(userId);
    if (token !== null) return { sessionToken: token, created: false };
    await this.dataSource
      .createQueryBuilder()
      .update(this.metadata.target)
      .set({ [this.tokenProperty]: newSessionToken() })
      .where({ [this.pkProperty]: userId, [this.tokenProperty]: IsNull() })
      .callListeners(false) // the subscriber drops plain token values from updates; the caller announces it
      .execute();
    return { sessionToken: await this.getSessionToken(userId), created: true };
  }

  async rotateSessionToken(userId: UserId): Promise<void> {
    const dialect = sqlDialect(this.dataSource);
    const value = dialect ? () => randomTokenSql(dialect) : newSessionToken();
    await this.dataSource
      .createQueryBuilder()
      .update(this.metadata.target)
      .set({ [this.tokenProperty]: value })
      .where({ [this.pkProperty]: userId })
      .callListeners(false) // the caller announces this revocation itself
      .execute();
  }
}
