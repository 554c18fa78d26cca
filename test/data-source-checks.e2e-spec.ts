import { Test } from '@nestjs/testing';
import { Column, DataSource, Entity, PrimaryColumn, type DataSourceOptions } from 'typeorm';
import { RevokesSessions, SESSION_REVOCATION_ENTITIES, SessionRevocationModule, SessionTokenColumn, type SessionRevocationModuleOptions } from '../lib/index.js';
import { assertDataSourceSupported } from '../lib/typeorm/data-source-checks.js';
import { testDatabase, testDatabases, type TestDatabase } from './support/databases.js';
import { TEST_SECRET, TestUser } from './support/test-app.js';

/** Compiles a module with the library on `entities[0]` over a DataSource of `db`; closes everything again. */
async function startModule(db: TestDatabase, entities: Function[], options: Partial<SessionRevocationModuleOptions> = {}): Promise<void> {
  const dataSource = await new DataSource(await db.options([...entities, ...SESSION_REVOCATION_ENTITIES])).initialize();
  try {
    const moduleRef = await Test.createTestingModule({
      imports: [SessionRevocationModule.forRoot({ userEntity: entities[0], jwt: { secret: TEST_SECRET }, dataSource, ...options })],
    }).compile();
    await moduleRef.close();
  } finally {
    await dataSource.destroy();
    await db.cleanup();
  }
}

async function mysqlServerIsMariaDb(options: DataSourceOptions): Promise<boolean> {
  const probe = await new DataSource(options).initialize();
  try {
    return /mariadb/i.test((await probe.query('SELECT VERSION() AS v'))[0].v);
  } finally {
    await probe.destroy();
  }
}

describe.each(testDatabases())('TypeORM-generated migrations of the library tables (%s)', (_name, database) => {
  it('create every table, and leave nothing to generate after they ran', async () => {
    const db = database();
    const options = { ...(await db.options([TestUser, ...SESSION_REVOCATION_ENTITIES])), synchronize: false } as DataSourceOptions;
    // TypeORM reads MariaDB's column defaults right only with its `mariadb` type (docs/databases.md).
    if (options.type === 'mysql' && (await mysqlServerIsMariaDb(options))) Object.assign(options, { type: 'mariadb' });
    const dataSource = await new DataSource(options).initialize();
    try {
      const pending = await dataSource.driver.createSchemaBuilder().log();
      expect(pending.upQueries.length).toBeGreaterThan(0);
      for (const query of pending.upQueries) await dataSource.query(query.query, query.parameters);
      expect((await dataSource.driver.createSchemaBuilder().log()).upQueries.map((q) => q.query)).toEqual([]);
    } finally {
      await dataSource.destroy();
      await db.cleanup();
    }
  });
});

describe.each(testDatabases())('options checked against the DataSource at startup (%s)', (name, database) => {
  it(name === 'postgres' ? 'accepts postgresNotify on PostgreSQL' : 'refuses postgresNotify, naming the option and the Redis alternative', async () => {
    const start = startModule(database(), [TestUser], { postgresNotify: true });
    if (name === 'postgres') await start;
    else await expect(start).rejects.toThrow(/option 'postgresNotify' needs a PostgreSQL DataSource .*redis/);
  });
});

@Entity('blob_users')
class BlobUser {
  @PrimaryColumn({ type: 'blob' }) id: Buffer;
  @Column({ type: 'varchar' }) @RevokesSessions() passwordHash: string;
  @SessionTokenColumn() sessionToken: string;
}

@Entity('pair_users')
class PairUser {
  @PrimaryColumn({ type: 'varchar' }) tenant: string;
  @PrimaryColumn({ type: 'varchar' }) login: string;
  @Column({ type: 'varchar' }) @RevokesSessions() passwordHash: string;
  @SessionTokenColumn() sessionToken: string;
}

describe('userEntity primary keys the library cannot carry', () => {
  it.each([
    [BlobUser, /option 'userEntity' \(BlobUser\) has a primary key of type blob, which sessions cannot carry/],
    [PairUser, /option 'userEntity' \(PairUser\) needs a single-column primary key/],
  ])('%p is refused at startup', async (entity, message) => {
    await expect(startModule(testDatabase('sqlite')!, [entity])).rejects.toThrow(message);
  });
});

describe('assertDataSourceSupported', () => {
  const unsupported = { options: { type: 'mssql' }, hasMetadata: () => true, getMetadata: () => ({ primaryColumns: [{ type: 'int' }] }) } as unknown as DataSource;
  it('refuses the trigger on a database it has no SQL for, naming the option', () => {
    expect(() => assertDataSourceSupported(unsupported, { userEntity: TestUser, trigger: 'trigger' })).toThrow(
      /option 'trigger' asks for the session-token trigger, which supports PostgreSQL, MySQL\/MariaDB and SQLite, not mssql/,
    );
    expect(() => assertDataSourceSupported(unsupported, { userEntity: TestUser })).not.toThrow();
  });
});
