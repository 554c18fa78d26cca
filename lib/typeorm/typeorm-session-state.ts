import { createHash } from 'node:crypto';
import { QueryFailedError, type DataSource, type EntityMetadata } from 'typeorm';
import { Logger } from '@nestjs/common';
import type { UserId } from '../interfaces/session-context.interface.js';
import { LOGGER_CONTEXT } from '../session-revocation.constants.js';
import type { SessionCheckRecord, SessionRecord, SessionState } from '../storage/session-store.interface.js';
import { AuthRevocationEpoch, AuthSession } from './entities/index.js';
import { GLOBAL_EPOCH_ID } from './entities/auth-revocation-epoch.entity.js';
import { isDataException } from './typeorm-queries.js';
import { sqlDialect } from './session-token-sql.js';
import type { TypeOrmUserTable } from './typeorm-user-table.js';

type ColumnMetadata = EntityMetadata['columns'][number];

/** The timer reads are gathered with, taken before any test's fake timers replace the global. */
const nextTurn = setImmediate;
/** Ids per `touchSessions` statement: far below every driver's parameter limit (SQLite 32,766). */
const TOUCH_CHUNK = 1000;
/** Most session reads one statement carries (3 parameters each). */
const MAX_READ_BATCH = 64;
/** Columns the check does not read: fewer columns, less to parse on every miss. */
const NOT_READ: ReadonlySet<string> = new Set(['userAgent', 'ip', 'endReason', 'claims'] satisfies Array<Exclude<keyof SessionRecord, keyof SessionCheckRecord>>);
/** SQLSTATEs of a named statement the server does not keep (a pooler in transaction mode) or can no longer use (the table changed). */
const PREPARED_STATEMENT_ERRORS: ReadonlySet<string> = new Set(['26000', '0A000', '42P05']);

interface PendingRead {
  sessionId: string;
  userId: UserId;
  resolve(state: SessionState): void;
  reject(error: unknown): void;
}

/** The part of node-postgres' Pool the fast path uses. */
interface PgPool {
  query(config: { name?: string; text: string; values: unknown[] }): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/**
 * The statements of the per-request path, as SQL text built once (from the entity metadata, with
 * the driver's own identifier escaping and placeholders): no QueryBuilder is built per call.
 *
 * - {@link readSessionState}: the session's checked columns, the user's session token and the
 *   revocation epoch in ONE statement (scalar sub-selects over a one-row LEFT JOIN, so it
 *   answers one row even when the session is unknown; the epoch is read once a statement). On the network databases (PostgreSQL,
 *   MySQL/MariaDB) the reads that arrive in one turn of the event loop share one statement: the
 *   one-session SELECT once per read, joined by UNION ALL (up to {@link MAX_READ_BATCH}, padded
 *   to a power of two so there are few texts). Each statement is sent after every read it carries
 *   was asked for; what a request may be served is still decided by the cache's generation, taken
 *   before the read was asked for. On PostgreSQL the statement is a named (prepared)
 *   one sent on the DataSource's pool, and logged through the DataSource's logger. SQLite's
 *   driver is synchronous: one statement a read, from better-sqlite3's statement cache.
 * - {@link touchSessions}: one `UPDATE ... WHERE id IN (...)` for a batch of `lastSeenAt` writes.
 * @internal
 */
export class TypeOrmSessionStateQueries {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private readonly sessionColumns: ColumnMetadata[];
  private readonly epochColumn: ColumnMetadata;
  private readonly sessionTable: string;
  private readonly idColumn: string;
  private readonly lastSeenColumn: string;
  /** The one-session SELECT at a position of a batch, its placeholders from an index on. */
  private readonly branch: (position: number, firstParameter: number) => string;
  /** SQL text (and statement name) per batch size. */
  private readonly texts = new Map<number, { text: string; name: string }>();
  private readonly batching: boolean;
  /** Whether reads go out as named statements on the pool (PostgreSQL, until the server refuses one). */
  private named: boolean;
  private queue: PendingRead[] = [];
  private scheduled = false;

  constructor(
    private readonly dataSource: DataSource,
    users: TypeOrmUserTable,
  ) {
    const driver = dataSource.driver;
    const q = (name: string) => driver.escape(name);
    const table = (metadata: EntityMetadata) => metadata.tablePath.split('.').map(q).join('.');
    const column = (metadata: EntityMetadata, property: string) => q(metadata.findColumnWithPropertyName(property)!.databaseName);
    const sessions = dataSource.getMetadata(AuthSession);
    const epochs = dataSource.getMetadata(AuthRevocationEpoch);
    this.sessionColumns = sessions.columns.filter((c) => !NOT_READ.has(c.propertyName));
    this.epochColumn = epochs.findColumnWithPropertyName('epoch')!;
    this.sessionTable = table(sessions);
    this.idColumn = column(sessions, 'id');
    this.lastSeenColumn = column(sessions, 'lastSeenAt');
    // A soft-deleted user has no session token (as TypeORM's own reads see it): its sessions are refused.
    const deleted = users.metadata.deleteDateColumn;
    const notDeleted = deleted ? ` AND ${q('u')}.${q(deleted.databaseName)} IS NULL` : '';
    const selected = this.sessionColumns.map((c) => `${q('s')}.${q(c.databaseName)} AS ${q(`s_${c.propertyName}`)}`).join(', ');
    const userToken = `${q('u')}.${column(users.metadata, users.tokenProperty)} FROM ${table(users.metadata)} ${q('u')} WHERE ${q('u')}.${column(users.metadata, users.pkProperty)}`;
    const epoch = `${q('e')}.${q(this.epochColumn.databaseName)} FROM ${table(epochs)} ${q('e')} WHERE ${q('e')}.${column(epochs, 'id')}`;
    // Placeholders in order of appearance (`?` drivers bind by position): the epoch id (first
    // branch only: the epoch is read once a statement), then the user id and the session id of each read.
    const p = (index: number) => driver.createParameter(`p${index}`, index);
    this.branch = (position, first) =>
      `SELECT ${position} AS ${q('state_i')}, ${position === 0 ? `(SELECT ${epoch} = ${p(first++)})` : 'NULL'} AS ${q('state_epoch')}, ` +
      `(SELECT ${userToken} = ${p(first)}${notDeleted}) AS ${q('state_token')}, ${selected} ` +
      `FROM (SELECT 1 AS ${q('one')}) ${q('d')} LEFT JOIN ${this.sessionTable} ${q('s')} ON ${q('s')}.${this.idColumn} = ${p(first + 1)}`;
    const dialect = sqlDialect(dataSource);
    this.batching = dialect === 'postgres' || dialect === 'mysql';
    this.named = dataSource.options.type === 'postgres';
  }

  /** The SQL text of one {@link readSessionState} alone (shown by the benchmark). */
  get readSessionStateSql(): string {
    return this.textFor(1).text;
  }

  readSessionState(sessionId: string, userId: UserId): Promise<SessionState> {
    if (!this.batching) return this.readMany([{ sessionId, userId }]).then((states) => states[0]);
    return new Promise((resolve, reject) => {
      this.queue.push({ sessionId, userId, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      nextTurn(() => this.flush());
    });
  }

  async touchSessions(sessionIds: string[], lastSeenAt: number): Promise<void> {
    const driver = this.dataSource.driver;
    for (let start = 0; start < sessionIds.length; start += TOUCH_CHUNK) {
      const ids = padded(sessionIds.slice(start, start + TOUCH_CHUNK));
      // Parameters: lastSeenAt twice (SET, then "never backwards"), then the ids.
      const ps = Array.from({ length: ids.length + 2 }, (_, i) => driver.createParameter(`p${i}`, i));
      const sql =
        `UPDATE ${this.sessionTable} SET ${this.lastSeenColumn} = ${ps[0]} ` +
        `WHERE ${this.lastSeenColumn} < ${ps[1]} AND ${this.idColumn} IN (${ps.slice(2).join(', ')})`;
      await this.dataSource.query(sql, [lastSeenAt, lastSeenAt, ...ids]);
    }
  }

  /** Sends what the queue holds, {@link MAX_READ_BATCH} reads a statement. */
  private flush(): void {
    this.scheduled = false;
    const queued = this.queue;
    this.queue = [];
    for (let start = 0; start < queued.length; start += MAX_READ_BATCH) void this.settle(queued.slice(start, start + MAX_READ_BATCH));
  }

  /**
   * Answers each read of a batch. A value one read's column cannot hold (SQLSTATE class 22) fails
   * the whole statement: then each read is sent alone, so it fails only its own request.
   */
  private async settle(batch: PendingRead[]): Promise<void> {
    try {
      const states = await this.readMany(batch);
      batch.forEach((read, i) => read.resolve(states[i]));
    } catch (error) {
      if (batch.length === 1 || !isDataException(error)) {
        for (const read of batch) read.reject(error);
        return;
      }
      for (const read of batch) void this.settle([read]);
    }
  }

  private async readMany(keys: Array<{ sessionId: string; userId: UserId }>): Promise<SessionState[]> {
    const ids = padded(keys.slice());
    const { text, name } = this.textFor(ids.length);
    const rows = await this.query(text, name, [GLOBAL_EPOCH_ID, ...ids.flatMap((k) => [k.userId, k.sessionId])]);
    const first = rows.find((row) => Number(row.state_i) === 0);
    const epoch = this.dataSource.driver.prepareHydratedValue(first?.state_epoch ?? null, this.epochColumn) as number | null;
    const states: SessionState[] = new Array(keys.length);
    for (const row of rows) {
      const i = Number(row.state_i);
      if (i < keys.length) states[i] = this.stateOf(row, epoch ?? 0);
    }
    return states;
  }

  private stateOf(row: Record<string, unknown>, epoch: number): SessionState {
    const driver = this.dataSource.driver;
    let session: SessionCheckRecord | null = null;
    if (row.s_id !== null && row.s_id !== undefined) {
      const record: Record<string, unknown> = {};
      for (const c of this.sessionColumns) record[c.propertyName] = driver.prepareHydratedValue(row[`s_${c.propertyName}`], c);
      session = record as unknown as SessionCheckRecord;
    }
    const token = row.state_token;
    return { session, sessionToken: typeof token === 'string' ? token : null, epoch };
  }

  /**
   * Runs a read: on PostgreSQL as a named statement on the pool (parsed and planned once per
   * connection), logged like TypeORM's own queries; elsewhere, or once the server refused a
   * named statement, by `dataSource.query`.
   */
  private async query(text: string, name: string, values: unknown[]): Promise<Array<Record<string, unknown>>> {
    // The pool of the moment: a DataSource destroyed and initialized again has a new one.
    const pool = this.named ? (this.dataSource.driver as { master?: Partial<PgPool> }).master : undefined;
    if (typeof pool?.query !== 'function') return this.dataSource.query(text, values);
    const logger = this.dataSource.logger;
    logger.logQuery(text, values);
    try {
      return (await (pool as PgPool).query({ name, text, values })).rows;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && PREPARED_STATEMENT_ERRORS.has(code)) {
        if (this.named) this.logger.warn(`PostgreSQL refused a named statement (SQLSTATE ${code}): session reads are sent unnamed from now on`);
        this.named = false;
        return this.dataSource.query(text, values);
      }
      logger.logQueryError(error as Error, text, values);
      throw new QueryFailedError(text, values, error as Error);
    }
  }

  private textFor(size: number): { text: string; name: string } {
    let entry = this.texts.get(size);
    if (!entry) {
      // Parameters: the epoch id, then two a read (the first branch takes three).
      const text = Array.from({ length: size }, (_, i) => this.branch(i, i === 0 ? 0 : 1 + i * 2)).join(' UNION ALL ');
      entry = { text, name: `nsr_state_${createHash('sha256').update(text).digest('hex').slice(0, 16)}` };
      this.texts.set(size, entry);
    }
    return entry;
  }
}

/**
 * The list padded to a power of two by repeating its last item: a handful of distinct SQL texts,
 * so a statement cache (better-sqlite3's keeps 100 texts; PostgreSQL's named statements) keeps them.
 */
function padded<T>(items: T[]): T[] {
  while (items.length & (items.length - 1)) items.push(items[items.length - 1]);
  return items;
}
