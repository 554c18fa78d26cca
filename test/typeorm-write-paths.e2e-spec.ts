import request from 'supertest';
import { installSessionTokenTrigger } from '../lib/index.js';
import { testDatabases } from './support/databases.js';
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
    (await users().createQueryBuilder('u').addSelect('u.sessionToken').where('u.id = :id', { id }).getOneOrFail()).sessionToken;

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
});
