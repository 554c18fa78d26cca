import request from 'supertest';
import { Column, DataSource, DefaultNamingStrategy, Entity, PrimaryGeneratedColumn, type DataSourceOptions } from 'typeorm';
import { createSessionTokenTriggerMigration, installSessionTokenTrigger, RevokesSessions, SessionTokenColumn } from '../lib/index.js';
import { freshMysqlDatabase, freshPostgresSchema, mysqlUrl, postgresUrl, testDatabase, testDatabases } from './support/databases.js';
import { createTestApp, TestUser, type TestApp } from './support/test-app.js';

describe.each(testDatabases())('password changes end sessions by every write path (%s)', (_name, database) => {
  let t: TestApp;
  let server: any;

  beforeAll(async () => {
    t = await createTestApp(database());
    server = t.app.getHttpServer();
  });
  afterAll(() => t?.close());

  const users = () => t.dataSource.getRepository(TestUser);
  const tokenOf = async (id: number) =>
    (await users().createQueryBuilder('u').withDeleted().addSelect('u.sessionToken').where('u.id = :id', { id }).getOneOrFail()).sessionToken;
  const passwordOf = async (id: number) => (await users().findOneByOrFail({ id })).passwordHash;

  async function newUser(email = `u${Math.random().toString(36).slice(2)}@example.com`) {
    return users().save(users().create({ email, passwordHash: 'hash-1' }));
  }
  async function login(id: number): Promise<string> {
    const res = await request(server).post(`/login/${id}`).expect(201);
    return res.body.accessToken;
  }
  const me = (token: string) => request(server).get('/me').set('Authorization', `Bearer ${token}`);

  it('gives every new user a 128-bit session token', async () => {
    const user = await newUser();
    expect(await tokenOf(user.id)).toMatch(/^[0-9a-f]{32}$/);
    expect((user as any).sessionToken).not.toBeUndefined();
  });

  it('accepts a fresh token and refuses it after repo.save(entity) changes the password', async () => {
    const user = await newUser();
    const token = await login(user.id);
    await me(token).expect(200);
    const loaded = await users().findOneByOrFail({ id: user.id });
    loaded.passwordHash = 'hash-2';
    await users().save(loaded);
    await me(token).expect(401);
  });

  it('repo.save(plainObject)', async () => {
    const user = await newUser();
    const token = await login(user.id);
    await users().save({ id: user.id, passwordHash: 'hash-2' });
    await me(token).expect(401);
  });

  it('repo.update(criteria, partial)', async () => {
    const user = await newUser();
    const token = await login(user.id);
    await users().update({ id: user.id }, { passwordHash: 'hash-2' });
    await me(token).expect(401);
  });

  it('QueryBuilder .update().set()', async () => {
    const user = await newUser();
    const token = await login(user.id);
    await t.dataSource.createQueryBuilder().update(TestUser).set({ passwordHash: 'hash-2' }).where('id = :id', { id: user.id }).execute();
    await me(token).expect(401);
  });

  it('inside a transaction', async () => {
    const user = await newUser();
    const token = await login(user.id);
    await t.dataSource.transaction(async (manager) => {
      await manager.update(TestUser, { id: user.id }, { passwordHash: 'hash-2' });
    });
    await me(token).expect(401);
  });

  it('email changes too (any @RevokesSessions column)', async () => {
    const user = await newUser();
    const token = await login(user.id);
    await users().update({ id: user.id }, { email: `new-${user.email}` });
    await me(token).expect(401);
  });

  it('does not rotate when the saved password is unchanged or another column changes', async () => {
    const user = await newUser();
    const token = await login(user.id);
    const before = await tokenOf(user.id);
    const loaded = await users().findOneByOrFail({ id: user.id });
    loaded.displayName = 'Ada';
    await users().save(loaded);
    await users().save({ id: user.id, passwordHash: 'hash-1' });
    expect(await tokenOf(user.id)).toBe(before);
    await me(token).expect(200);
  });

  it('gives every row of a bulk update its own new token', async () => {
    const created = await Promise.all([1, 2, 3, 4].map(() => newUser()));
    const ids = created.map((u) => u.id);
    const before = await Promise.all(ids.map(tokenOf));
    await t.dataSource.createQueryBuilder().update(TestUser).set({ passwordHash: 'bulk' }).whereInIds(ids).execute();
    const after = await Promise.all(ids.map(tokenOf));
    expect(new Set(after).size).toBe(ids.length);
    after.forEach((token, i) => expect(token).not.toBe(before[i]));
  });

  it('never lets a stale entity save restore an old session token', async () => {
    const user = await newUser();
    const stale = await users().createQueryBuilder('u').addSelect('u.sessionToken').where('u.id = :id', { id: user.id }).getOneOrFail();
    const oldToken = stale.sessionToken;
    await t.sessions.invalidateSessions(user.id);
    const rotated = await tokenOf(user.id);
    expect(rotated).not.toBe(oldToken);
    const tokenAfterRotation = await login(user.id);
    stale.displayName = 'stale write';
    await users().save(stale);
    expect(await tokenOf(user.id)).toBe(rotated);
    await me(tokenAfterRotation).expect(200);
  });

  it('update(id, { password: sameHash }) rotates (the SET names the column), save() with the same value does not', async () => {
    const user = await newUser();
    const token = await login(user.id);
    await users().save({ id: user.id, passwordHash: 'hash-1' });
    await me(token).expect(200);
    await users().update(user.id, { passwordHash: 'hash-1' });
    await me(token).expect(401);
  });

  /** Logs a user in, runs `write`, and checks old sessions end (or not) and the token column changed (or not). */
  async function afterWrite(write: (user: TestUser) => Promise<unknown>, rotates: boolean) {
    const user = await newUser();
    const token = await login(user.id);
    const before = await tokenOf(user.id);
    await write(user);
    await me(token).expect(rotates ? 401 : 200);
    if (rotates) expect(await tokenOf(user.id)).not.toBe(before);
    else expect(await tokenOf(user.id)).toBe(before);
    return user;
  }

  describe('upsert', () => {
    it('repository.upsert() overwriting the password', async () => {
      const user = await afterWrite((u) => users().upsert({ email: u.email, passwordHash: 'hash-2' }, ['email']), true);
      expect(await passwordOf(user.id)).toBe('hash-2');
    });

    it('manager.upsert() overwriting the password', () =>
      afterWrite((u) => t.dataSource.manager.upsert(TestUser, { email: u.email, passwordHash: 'hash-2' }, { conflictPaths: ['email'] }), true));

    it('insert().orUpdate() overwriting the password, inside a transaction', () =>
      afterWrite(
        (u) =>
          t.dataSource.transaction((manager) =>
            manager.createQueryBuilder().insert().into(TestUser).values({ email: u.email, passwordHash: 'hash-2' }).orUpdate(['passwordHash'], ['email']).execute(),
          ),
        true,
      ));

    it('not when the conflict path leaves the password alone (orUpdate of another column)', async () => {
      const user = await afterWrite(
        (u) => t.dataSource.createQueryBuilder().insert().into(TestUser).values({ email: u.email, passwordHash: 'other', displayName: 'Ada' }).orUpdate(['displayName'], ['email']).execute(),
        false,
      );
      expect(await passwordOf(user.id)).toBe('hash-1');
      expect((await users().findOneByOrFail({ id: user.id })).displayName).toBe('Ada');
    });

    it('not when the overwritten password is the same value, nor for orIgnore()', () =>
      afterWrite(async (u) => {
        await users().upsert({ email: u.email, passwordHash: 'hash-1', displayName: 'Ada' }, ['email']);
        await t.dataSource.createQueryBuilder().insert().into(TestUser).values({ email: u.email, passwordHash: 'other' }).orIgnore().updateEntity(false).execute();
      }, false));

    it('a bulk upsert gives every changed row its own new token and inserts new rows with one', async () => {
      const [a, b] = await Promise.all([newUser(), newUser()]);
      const tokens = await Promise.all([login(a.id), login(b.id)]);
      const before = await Promise.all([tokenOf(a.id), tokenOf(b.id)]);
      const email = `fresh-${Math.random().toString(36).slice(2)}@example.com`;
      await users().upsert(
        [
          { email: a.email, passwordHash: 'bulk' },
          { email: b.email, passwordHash: 'bulk' },
          { email, passwordHash: 'bulk' },
        ],
        ['email'],
      );
      for (const token of tokens) await me(token).expect(401);
      const fresh = (await users().findOneByOrFail({ email })).id;
      const after = await Promise.all([tokenOf(a.id), tokenOf(b.id), tokenOf(fresh)]);
      expect(new Set([...after, ...before]).size).toBe(5);
      after.forEach((token) => expect(token).toMatch(/^[0-9a-f]{32,64}$/));
    });

    it('never writes back an old token an upserted object carries', async () => {
      const user = await newUser();
      const old = await tokenOf(user.id);
      const oldSession = await login(user.id);
      await t.sessions.invalidateSessions(user.id);
      await users().upsert({ email: user.email, passwordHash: 'hash-1', sessionToken: old }, ['email']);
      expect(await tokenOf(user.id)).not.toBe(old);
      await me(oldSession).expect(401);
    });
  });

  it('increment() and decrement() of a @RevokesSessions() column', async () => {
    await afterWrite((u) => users().increment({ id: u.id }, 'credentialsVersion', 1), true);
    await afterWrite((u) => users().decrement({ id: u.id }, 'credentialsVersion', 1), true);
  });

  it('softDelete() ends the sessions; restore() does not bring them back, a new login works', async () => {
    const user = await newUser();
    const token = await login(user.id);
    await users().softDelete({ id: user.id });
    await me(token).expect(401);
    await request(server).post(`/login/${user.id}`).expect(401);
    await users().restore({ id: user.id });
    await me(token).expect(401);
    await me(await login(user.id)).expect(200);
  });

  it('softRemove(entity) and recover(entity): the same', async () => {
    const user = await newUser();
    const token = await login(user.id);
    const before = await tokenOf(user.id);
    const loaded = await users().findOneByOrFail({ id: user.id });
    await users().softRemove(loaded);
    await me(token).expect(401);
    await users().recover(loaded);
    await me(token).expect(401);
    expect(await tokenOf(user.id)).not.toBe(before);
    await me(await login(user.id)).expect(200);
  });

  it('delete() and remove(entity) end the sessions', async () => {
    const [a, b] = await Promise.all([newUser(), newUser()]);
    const [ta, tb] = await Promise.all([login(a.id), login(b.id)]);
    await users().delete({ id: a.id });
    await me(ta).expect(401);
    await users().remove(await users().findOneByOrFail({ id: b.id }));
    await me(tb).expect(401);
  });
});

/**
 * Raw SQL and callListeners(false) are invisible to TypeORM: the trigger rotates the token in
 * the database. A cached instance learns of it through PostgreSQL NOTIFY (postgresNotify bus);
 * without a bus it is bounded by the cache TTL, so these apps run strict (cache: false) or with NOTIFY.
 */
const rawSqlSetups: Array<[string, string, () => any, Record<string, unknown>]> = testDatabases().flatMap(([name, db]) => {
  const rows: Array<[string, string, () => any, Record<string, unknown>]> = [[name, 'strict mode', db, { cache: false }]];
  if (name === 'postgres') rows.push([name, 'cache + LISTEN/NOTIFY bus', db, { postgresNotify: true }]);
  return rows;
});

describe.each(rawSqlSetups)('writes TypeORM cannot see, with the trigger (%s, %s)', (_name, _mode, database, options) => {
  let t: TestApp;
  let server: any;
  beforeAll(async () => {
    t = await createTestApp(database(), { options });
    server = t.app.getHttpServer();
  });
  afterAll(() => t?.close());

  const users = () => t.dataSource.getRepository(TestUser);
  const newUser = () => users().save(users().create({ email: `raw${Math.random().toString(36).slice(2)}@example.com`, passwordHash: 'hash-1' }));
  const login = async (id: number): Promise<string> => (await request(server).post(`/login/${id}`).expect(201)).body.accessToken;
  const me = (token: string) => request(server).get('/me').set('Authorization', `Bearer ${token}`);
  const eventually = async (token: string, status: number) => {
    for (let i = 0; i < 50; i++) {
      if ((await me(token)).status === status) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    await me(token).expect(status);
  };

  it('is blind to raw SQL without the trigger, and covered with it', async () => {
    const user = await newUser();
    const token = await login(user.id);
    const table = t.dataSource.getMetadata(TestUser).tableName;
    const q = (s: string) => t.dataSource.driver.escape(s);
    await t.dataSource.query(`UPDATE ${q(table)} SET ${q('passwordHash')} = 'raw-1' WHERE id = ${user.id}`);
    await me(token).expect(200);

    await installSessionTokenTrigger(t.dataSource, TestUser);
    await t.dataSource.query(`UPDATE ${q(table)} SET ${q('passwordHash')} = 'raw-2' WHERE id = ${user.id}`);
    await eventually(token, 401);

    const other = await newUser();
    const otherToken = await login(other.id);
    await t.dataSource.query(`UPDATE ${q(table)} SET ${q('displayName')} = 'no rotation' WHERE id = ${other.id}`);
    await me(otherToken).expect(200);
    await t.dataSource.createQueryBuilder().update(TestUser).set({ passwordHash: 'silent' }).where('id = :id', { id: other.id }).callListeners(false).execute();
    await eventually(otherToken, 401);
  });

  const table = () => t.dataSource.getMetadata(TestUser).tablePath.split('.').map((part) => t.dataSource.driver.escape(part)).join('.');
  const q = (name: string) => t.dataSource.driver.escape(name);
  const tokenOf = async (id: number) =>
    (await users().createQueryBuilder('u').withDeleted().addSelect('u.sessionToken').where('u.id = :id', { id }).getOneOrFail()).sessionToken;

  it('a raw DELETE of the user ends the sessions (with LISTEN/NOTIFY at once, although the cache holds the user)', async () => {
    await installSessionTokenTrigger(t.dataSource, TestUser);
    const user = await newUser();
    const token = await login(user.id);
    await me(token).expect(200);
    await t.dataSource.query(`DELETE FROM ${table()} WHERE id = ${user.id}`);
    await eventually(token, 401);
  });

  it('a raw soft delete and restore: the restored user has a new token, old sessions stay dead', async () => {
    await installSessionTokenTrigger(t.dataSource, TestUser);
    const user = await newUser();
    const token = await login(user.id);
    const before = await tokenOf(user.id);
    await t.dataSource.query(`UPDATE ${table()} SET ${q('deletedAt')} = CURRENT_TIMESTAMP WHERE id = ${user.id}`);
    await t.dataSource.query(`UPDATE ${table()} SET ${q('deletedAt')} = NULL WHERE id = ${user.id}`);
    await eventually(token, 401);
    expect(await tokenOf(user.id)).not.toBe(before);
  });

  it('never keeps a token value the raw UPDATE sets, and gives each row of a raw bulk UPDATE its own token', async () => {
    await installSessionTokenTrigger(t.dataSource, TestUser);
    const [a, b] = [await newUser(), await newUser()];
    const old = await tokenOf(a.id);
    await t.dataSource.query(`UPDATE ${table()} SET ${q('passwordHash')} = 'raw-bulk', ${q('sessionToken')} = '${old}' WHERE id IN (${a.id}, ${b.id})`);
    const after = [await tokenOf(a.id), await tokenOf(b.id)];
    expect(after).not.toContain(old);
    expect(after[0]).not.toBe(after[1]);
  });

  // updateEntity(false): on MySQL TypeORM otherwise fails reading back an id when no row was inserted.
  it('upsert and increment with callListeners(false): the trigger is the backstop, and leaves other columns alone', async () => {
    await installSessionTokenTrigger(t.dataSource, TestUser);
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    const [ta, tb, tc] = [await login(a.id), await login(b.id), await login(c.id)];
    const upsert = (email: string, overwrite: string[]) =>
      t.dataSource.createQueryBuilder().insert().into(TestUser).values({ email, passwordHash: 'upserted' }).orUpdate(overwrite, ['email']).callListeners(false).updateEntity(false).execute();
    await upsert(a.email, ['passwordHash']);
    await upsert(b.email, ['displayName']);
    await t.dataSource.createQueryBuilder().update(TestUser).set({ credentialsVersion: () => `${q('credentialsVersion')} + 1` }).where('id = :id', { id: c.id }).callListeners(false).execute();
    await eventually(ta, 401);
    await eventually(tc, 401);
    await me(tb).expect(200);
  });
});

class SnakeNamingStrategy extends DefaultNamingStrategy {
  columnName(propertyName: string, customName: string | undefined, prefixes: string[]): string {
    return customName ?? [...prefixes, propertyName].join('_').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  }
}

describe.each(testDatabases())('the trigger is installed on the table TypeORM resolves (%s)', (name) => {
  it('another PostgreSQL schema / MySQL database than the connection default, a naming strategy, an entity prefix, quotes in the name', async () => {
    const db = testDatabase(name)!;
    const other = name === 'postgres' ? await freshPostgresSchema(postgresUrl!, 'other') : name === 'mariadb' ? await freshMysqlDatabase(mysqlUrl!, 'other') : undefined;
    const location = other && 'schema' in other ? { schema: other.schema } : other && 'database' in other ? { database: other.database } : {};

    // TypeORM's own schema sync handles quote characters in names only on SQLite; a space needs quoting everywhere.
    const tableName = name === 'sqlite' ? 'we"ird`users' : 'user accounts';
    @Entity({ name: tableName, ...location })
    class Account {
      @PrimaryGeneratedColumn() id: number;
      @Column({ type: 'varchar' }) @RevokesSessions() passwordHash: string;
      @Column({ type: 'varchar', default: '' }) displayName: string;
      @SessionTokenColumn() sessionToken: string;
    }

    const dataSource = new DataSource({ ...(await db.options([Account])), namingStrategy: new SnakeNamingStrategy(), entityPrefix: 'app_' } as DataSourceOptions);
    await dataSource.initialize();
    try {
      const metadata = dataSource.getMetadata(Account);
      expect(metadata.tableName).toBe(`app_${tableName}`);
      const q = (s: string) => dataSource.driver.escape(s);
      const table = [location.schema ?? location.database, metadata.tableName].filter(Boolean).map((s) => q(s!)).join('.');
      const { id } = await dataSource.getRepository(Account).save({ passwordHash: 'h1', sessionToken: 'old-token' });
      const token = async () => (await dataSource.query(`SELECT ${q('session_token')} AS t FROM ${table} WHERE id = ${id}`))[0].t;
      const migration = new (createSessionTokenTriggerMigration(Account))();
      const runner = dataSource.createQueryRunner();
      try {
        await migration.up(runner);
        await dataSource.query(`UPDATE ${table} SET ${q('display_name')} = 'x' WHERE id = ${id}`);
        expect(await token()).toBe('old-token');
        await dataSource.query(`UPDATE ${table} SET ${q('password_hash')} = 'h2' WHERE id = ${id}`);
        const rotated = await token();
        expect(rotated).toMatch(/^[0-9a-f]{32,64}$/);
        await migration.down(runner);
        await dataSource.query(`UPDATE ${table} SET ${q('password_hash')} = 'h3' WHERE id = ${id}`);
        expect(await token()).toBe(rotated);
      } finally {
        await runner.release();
      }
    } finally {
      await dataSource.destroy();
      await db.cleanup();
      await other?.drop();
    }
  });
});
