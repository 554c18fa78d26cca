import type { DataSource, EntityMetadata } from 'typeorm';
import type { UserId } from '../interfaces/session-context.interface.js';
import type { SessionCheckRecord, SessionRecord, SessionState } from '../storage/session-store.interface.js';
import { AuthRevocationEpoch, AuthSession } from './entities/index.js';
import type { TypeOrmUserTable } from './typeorm-user-table.js';

type ColumnMetadata = EntityMetadata['columns'][number];

/** Ids per `touchSessions` statement: far below every driver's parameter limit (SQLite 32,766). */
const TOUCH_CHUNK = 1000;
const EPOCH_ID = 'global';
/** Columns the check does not read: fewer columns, less to parse on every miss. */
const NOT_READ: ReadonlySet<string> = new Set(['userAgent', 'ip', 'endReason', 'claims'] satisfies Array<Exclude<keyof SessionRecord, keyof SessionCheckRecord>>);

/**
 * The statements of the per-request path, as SQL text built once (in the constructor, from the
 * entity metadata, with the driver's own identifier escaping and placeholders) and run with
 * `dataSource.query(sql, params)`: no QueryBuilder is built per call.
 *
 * - {@link readSessionState}: the session's checked columns, the user's session token and the revocation epoch
 *   in ONE statement (two scalar sub-selects over a one-row LEFT JOIN, so it answers one row even
 *   when the session is unknown). Standard SQL: PostgreSQL, SQLite, MySQL/MariaDB.
 * - {@link touchSessions}: one `UPDATE ... WHERE id IN (...)` for a batch of `lastSeenAt` writes.
 * @internal
 */
export class TypeOrmSessionStateQueries {
  private readonly stateSql: string;
  private readonly sessionColumns: ColumnMetadata[];
  private readonly epochColumn: ColumnMetadata;
  private readonly sessionTable: string;
  private readonly idColumn: string;
  private readonly lastSeenColumn: string;

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
    // Placeholders in order of appearance (`?` drivers bind by position): user id, epoch id, session id.
    const p = (index: number) => driver.createParameter(`p${index}`, index);
    // A soft-deleted user has no session token (as TypeORM's own reads see it): its sessions are refused.
    const deleted = users.metadata.deleteDateColumn;
    const notDeleted = deleted ? ` AND ${q('u')}.${q(deleted.databaseName)} IS NULL` : '';
    const selected = this.sessionColumns.map((c) => `${q('s')}.${q(c.databaseName)} AS ${q(`s_${c.propertyName}`)}`);
    this.stateSql =
      `SELECT (SELECT ${q('u')}.${column(users.metadata, users.tokenProperty)} FROM ${table(users.metadata)} ${q('u')} ` +
      `WHERE ${q('u')}.${column(users.metadata, users.pkProperty)} = ${p(0)}${notDeleted}) AS ${q('state_token')}, ` +
      `(SELECT ${q('e')}.${q(this.epochColumn.databaseName)} FROM ${table(epochs)} ${q('e')} WHERE ${q('e')}.${column(epochs, 'id')} = ${p(1)}) AS ${q('state_epoch')}, ` +
      `${selected.join(', ')} FROM (SELECT 1 AS ${q('one')}) ${q('d')} LEFT JOIN ${this.sessionTable} ${q('s')} ON ${q('s')}.${this.idColumn} = ${p(2)}`;
  }

  /** The SQL text of {@link readSessionState} (shown by the benchmark). */
  get readSessionStateSql(): string {
    return this.stateSql;
  }

  async readSessionState(sessionId: string, userId: UserId): Promise<SessionState> {
    const rows: Array<Record<string, unknown>> = await this.dataSource.query(this.stateSql, [userId, EPOCH_ID, sessionId]);
    const row = rows[0] ?? {};
    const driver = this.dataSource.driver;
    let session: SessionCheckRecord | null = null;
    if (row.s_id !== null && row.s_id !== undefined) {
      const record: Record<string, unknown> = {};
      for (const c of this.sessionColumns) record[c.propertyName] = driver.prepareHydratedValue(row[`s_${c.propertyName}`], c);
      session = record as unknown as SessionCheckRecord;
    }
    const token = row.state_token;
    const epoch = driver.prepareHydratedValue(row.state_epoch ?? null, this.epochColumn) as number | null;
    return { session, sessionToken: typeof token === 'string' ? token : null, epoch: epoch ?? 0 };
  }

  async touchSessions(sessionIds: string[], lastSeenAt: number): Promise<void> {
    const driver = this.dataSource.driver;
    for (let start = 0; start < sessionIds.length; start += TOUCH_CHUNK) {
      const ids = sessionIds.slice(start, start + TOUCH_CHUNK);
      // Padded to a power of two (repeating the last id): a handful of distinct SQL texts, so the
      // driver's prepared-statement cache (better-sqlite3: 100 texts, first in first out) keeps the state read.
      while (ids.length & (ids.length - 1)) ids.push(ids[ids.length - 1]);
      // Parameters: lastSeenAt twice (SET, then "never backwards"), then the ids.
      const ps = Array.from({ length: ids.length + 2 }, (_, i) => driver.createParameter(`p${i}`, i));
      const sql =
        `UPDATE ${this.sessionTable} SET ${this.lastSeenColumn} = ${ps[0]} ` +
        `WHERE ${this.lastSeenColumn} < ${ps[1]} AND ${this.idColumn} IN (${ps.slice(2).join(', ')})`;
      await this.dataSource.query(sql, [lastSeenAt, lastSeenAt, ...ids]);
    }
  }
}
