import { createHash } from 'node:crypto';
import { In, LessThan, type DataSource, type QueryRunner, type Repository } from 'typeorm';
import type { UserId } from '../interfaces/session-context.interface.js';
import type { ActivityRecord, AttemptRecord, PruneCounts, PruneCutoff } from '../storage/session-store.interface.js';
import { AuthLoginAttempt, AuthRefreshToken, AuthSession, AuthSessionActivity } from './entities/index.js';
import { sqlDialect, type SqlDialect } from './session-token-sql.js';
import { read, write } from './typeorm-queries.js';

/**
 * The TypeORM store's policy tables: failed-attempt counters, the activity log, pruning and the
 * advisory lock that keeps periodic jobs on one instance at a time.
 * @internal
 */
export class TypeOrmPolicyTables {
  private readonly attempts: Repository<AuthLoginAttempt>;
  private readonly activity: Repository<AuthSessionActivity>;
  private readonly sessions: Repository<AuthSession>;
  private readonly refreshTokens: Repository<AuthRefreshToken>;
  private readonly dialect: SqlDialect | undefined;
  private readonly running = new Set<string>();

  constructor(private readonly dataSource: DataSource) {
    this.attempts = dataSource.getRepository(AuthLoginAttempt);
    this.activity = dataSource.getRepository(AuthSessionActivity);
    this.sessions = dataSource.getRepository(AuthSession);
    this.refreshTokens = dataSource.getRepository(AuthRefreshToken);
    this.dialect = sqlDialect(dataSource);
  }

  recordFailedAttempt(key: string, at: number, windowStart: number): Promise<AttemptRecord> {
    const failures = this.column(this.attempts, 'failures');
    const firstAt = this.column(this.attempts, 'firstAt');
    return write(async () => {
      await this.attempts.createQueryBuilder().insert().values({ key, failures: 0, firstAt: at, lastAt: at }).orIgnore().execute();
      // One UPDATE counts atomically under the row lock. `failures` is assigned before `firstAt`:
      // MySQL evaluates assignments left to right, with the values already assigned.
      await this.attempts
        .createQueryBuilder()
        .update()
        .set({
          failures: () => `CASE WHEN ${firstAt} < :windowStart THEN 1 ELSE ${failures} + 1 END`,
          firstAt: () => `CASE WHEN ${firstAt} < :windowStart THEN :at ELSE ${firstAt} END`,
          lastAt: at,
        })
        .where({ key })
        .setParameters({ windowStart, at })
        .execute();
      return this.attempts.findOneByOrFail({ key });
    });
  }

  getAttempts(key: string): Promise<AttemptRecord | null> {
    return read(() => this.attempts.findOneBy({ key }), null);
  }

  clearAttempts(key: string): Promise<void> {
    return write(async () => void (await this.attempts.delete({ key })));
  }

  addActivity(entry: ActivityRecord): Promise<void> {
    return write(async () => void (await this.activity.insert({ ...entry }))); // a copy: insert() writes the generated id into its argument
  }

  listActivity(userId: UserId, limit: number): Promise<ActivityRecord[]> {
    return read(async () => {
      const rows = await this.activity.find({ where: { userId: String(userId) }, order: { at: 'DESC', id: 'DESC' }, take: limit });
      return rows.map(({ id: _id, ...entry }) => entry);
    }, []);
  }

  prune(cutoff: PruneCutoff, limit: number): Promise<PruneCounts> {
    return write(async () => {
      const before = LessThan(cutoff.before);
      const sessionIds = (
        await this.sessions.find({
          select: { id: true },
          where: [{ endedAt: before }, { expiresAt: before }, { absoluteExpiresAt: before }, { lastSeenAt: LessThan(cutoff.lastSeenBefore) }],
          take: limit,
        })
      ).map((s) => s.id);
      if (sessionIds.length > 0) {
        await this.refreshTokens.delete({ sessionId: In(sessionIds) });
        await this.sessions.delete({ id: In(sessionIds) });
      }
      const tokenHashes = (await this.refreshTokens.find({ select: { tokenHash: true }, where: { expiresAt: before }, take: limit })).map((t) => t.tokenHash);
      if (tokenHashes.length > 0) await this.refreshTokens.delete({ tokenHash: In(tokenHashes) });
      const keys = (await this.attempts.find({ select: { key: true }, where: { lastAt: LessThan(cutoff.attemptsBefore) }, take: limit })).map((a) => a.key);
      if (keys.length > 0) await this.attempts.delete({ key: In(keys) });
      let activity = 0;
      if (cutoff.activityBefore !== undefined) {
        const ids = (await this.activity.find({ select: { id: true }, where: { at: LessThan(cutoff.activityBefore) }, take: limit })).map((a) => a.id);
        if (ids.length > 0) await this.activity.delete({ id: In(ids) });
        activity = ids.length;
      }
      return { sessions: sessionIds.length, refreshTokens: tokenHashes.length, attempts: keys.length, activity };
    });
  }

  /**
   * Runs `task` unless it runs already, here or on another instance: `pg_try_advisory_lock` on
   * PostgreSQL, `GET_LOCK` on MySQL/MariaDB (held on one connection for the task's duration);
   * on SQLite, whose file one process uses, only this process is checked.
   */
  async runExclusive(name: string, task: () => Promise<void>): Promise<boolean> {
    if (this.running.has(name)) return false;
    this.running.add(name);
    let runner: QueryRunner | undefined;
    try {
      if (this.dialect === 'postgres' || this.dialect === 'mysql') {
        runner = this.dataSource.createQueryRunner();
        if (!(await write(() => this.lock(runner!, name)))) return false;
      }
      try {
        await task();
      } finally {
        if (runner) await this.unlock(runner, name).catch(() => undefined);
      }
      return true;
    } finally {
      this.running.delete(name);
      await runner?.release();
    }
  }

  private async lock(runner: QueryRunner, name: string): Promise<boolean> {
    const [row] =
      this.dialect === 'postgres'
        ? await runner.query('SELECT pg_try_advisory_lock($1::bigint) AS locked', [advisoryKey(name)])
        : await runner.query('SELECT GET_LOCK(?, 0) AS locked', [lockName(name)]);
    return row?.locked === true || Number(row?.locked) === 1;
  }

  private async unlock(runner: QueryRunner, name: string): Promise<void> {
    if (this.dialect === 'postgres') await runner.query('SELECT pg_advisory_unlock($1::bigint)', [advisoryKey(name)]);
    else await runner.query('SELECT RELEASE_LOCK(?)', [lockName(name)]);
  }

  /** A column of an entity, escaped for raw SQL. */
  private column(repository: Repository<any>, property: string): string {
    return this.dataSource.driver.escape(repository.metadata.findColumnWithPropertyName(property)!.databaseName);
  }
}

/** The lock's name for MySQL/MariaDB (at most 64 characters). */
function lockName(name: string): string {
  return `nestjs-session-revocation:${name}`.slice(0, 64);
}

/** A 64-bit PostgreSQL advisory-lock key for a name (signed, as text). */
function advisoryKey(name: string): string {
  return createHash('sha256').update(lockName(name)).digest().readBigInt64BE(0).toString();
}
