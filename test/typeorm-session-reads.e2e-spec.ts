import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { DataSource, type Logger as TypeOrmLogger } from 'typeorm';
import { SESSION_REVOCATION_ENTITIES, TypeOrmSessionStore, type SessionRecord } from '../lib/index.js';
import { testDatabases } from './support/databases.js';
import { TestUser } from './support/test-app.js';

/** Counts the statements TypeORM (and the store's PostgreSQL fast path) logs. */
class CountingLogger implements TypeOrmLogger {
  readonly statements: string[] = [];
  logQuery(query: string): void {
    this.statements.push(query);
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

/** The per-request session read of the TypeORM store: how many statements concurrent reads send. */
describe.each(testDatabases())('TypeORM session reads (%s)', (name, database) => {
  let dataSource: DataSource;
  let store: TypeOrmSessionStore;
  let logger: CountingLogger;
  let db: ReturnType<typeof database>;
  const now = Date.now();

  beforeAll(async () => {
    db = database();
    logger = new CountingLogger();
    dataSource = new DataSource({ ...(await db.options([TestUser, ...SESSION_REVOCATION_ENTITIES])), logger, logging: true } as never);
    await dataSource.initialize();
    store = new TypeOrmSessionStore(dataSource, TestUser);
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await db?.cleanup();
  });

  async function sessions(count: number): Promise<SessionRecord[]> {
    const user = await dataSource.getRepository(TestUser).save({ email: `r${Date.now()}-${Math.random()}@example.com`, passwordHash: 'h' });
    await store.ensureSessionToken(user.id);
    const records = Array.from({ length: count }, (_, i): SessionRecord => ({
      id: crypto.randomUUID(),
      userId: String(user.id),
      sessionTokenFingerprint: 'fp',
      userAgent: 'jest',
      ip: '127.0.0.1',
      createdAt: now,
      lastSeenAt: now + i,
      authTime: now,
      expiresAt: now + 60_000,
      absoluteExpiresAt: now + 60_000,
      endedAt: null,
      endReason: null,
      claims: null,
    }));
    for (const record of records) await store.createSession(record);
    return records;
  }

  it(name === 'sqlite' ? 'sends one statement per read (a synchronous driver: nothing to share)' : 'reads that arrive together share statements (at most 64 reads each)', async () => {
    const records = await sessions(100);
    logger.statements.length = 0;
    const states = await Promise.all(records.map((r) => store.readSessionState(r.id, Number(r.userId))));
    states.forEach((state, i) => expect(state.session).toMatchObject({ id: records[i].id, lastSeenAt: records[i].lastSeenAt }));
    const reads = logger.statements.filter((sql) => sql.includes('state_token'));
    expect(reads).toHaveLength(name === 'sqlite' ? 100 : 2);
    expect(logger.statements).toHaveLength(reads.length);
  });

  if (name === 'postgres') {
    it('falls back to unnamed statements, once and for good, when the server refuses named ones (a pooler in transaction mode)', async () => {
      const [record] = await sessions(1);
      const store = new TypeOrmSessionStore(dataSource, TestUser); // its own: it falls back for good
      const pool = (dataSource.driver as unknown as { master: { query: (...args: unknown[]) => Promise<unknown> } }).master;
      const original = pool.query.bind(pool);
      const named: unknown[] = [];
      pool.query = (config: unknown, ...rest: unknown[]) => {
        if (typeof config === 'object' && config !== null && 'name' in config) {
          named.push(config);
          return Promise.reject(Object.assign(new Error('prepared statement "x" does not exist'), { code: '26000' }));
        }
        return original(config, ...rest);
      };
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => {});
      try {
        for (let i = 0; i < 3; i++) expect((await store.readSessionState(record.id, Number(record.userId))).session?.id).toBe(record.id);
        expect(named).toHaveLength(1);
        expect(warn).toHaveBeenCalledTimes(1);
        expect(String(warn.mock.calls[0][0])).toMatch(/SQLSTATE 26000/);
      } finally {
        pool.query = original;
        warn.mockRestore();
      }
    });

    it('keeps working after the DataSource is destroyed and initialized again (a new pool)', async () => {
      const [record] = await sessions(1);
      await dataSource.destroy();
      await dataSource.initialize();
      expect((await store.readSessionState(record.id, Number(record.userId))).session?.id).toBe(record.id);
    });

    it('a failing server fails the reads (the caller answers 503), it does not read as "no session"', async () => {
      const [record] = await sessions(1);
      const pool = (dataSource.driver as unknown as { master: { query: (...args: unknown[]) => Promise<unknown> } }).master;
      const original = pool.query.bind(pool);
      pool.query = () => Promise.reject(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }));
      try {
        await expect(store.readSessionState(record.id, Number(record.userId))).rejects.toMatchObject({ name: 'SessionStoreUnavailableError' });
      } finally {
        pool.query = original;
      }
    });
  }
});
