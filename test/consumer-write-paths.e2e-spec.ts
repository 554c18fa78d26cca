import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testDatabases } from './support/databases.js';
import { compileApp, packAndInstall, run } from './support/packed-package.js';

/**
 * A fresh app that installs only the packed tarball (UUID primary keys, soft deletion, the
 * trigger from the package) runs every TypeORM write path on each database. For each path it
 * reports what an old session gets on GET /me and on refresh, and whether the user's session
 * token column changed.
 */
const CONSUMER = `import 'reflect-metadata';
import { Controller, Get, Module, Param, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Column, DataSource, DeleteDateColumn, Entity, PrimaryGeneratedColumn, type DataSourceOptions, type Repository } from 'typeorm';
import {
  CurrentSession, RevokesSessions, SESSION_REVOCATION_ENTITIES, SessionRevocationModule, SessionService, SessionTokenColumn, SkipSessionCheck,
  installSessionTokenTrigger, type SessionContext,
} from 'nestjs-session-revocation';

@Entity('users')
export class User {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'varchar', length: 191, unique: true }) @RevokesSessions() email!: string;
  @Column({ type: 'varchar', length: 100 }) @RevokesSessions() password!: string;
  @Column({ type: 'int', default: 0 }) @RevokesSessions() credentialsVersion!: number;
  @Column({ type: 'varchar', length: 100, default: '' }) name!: string;
  @DeleteDateColumn({ nullable: true }) deletedAt!: Date | null;
  @SessionTokenColumn() sessionToken!: string;
}

@Controller()
class AppController {
  constructor(private readonly sessions: SessionService) {}
  @SkipSessionCheck() @Post('login/:id') login(@Param('id') id: string) { return this.sessions.issue(id); }
  @SkipSessionCheck() @Post('refresh/:token') refresh(@Param('token') token: string) { return this.sessions.refresh(token); }
  @Get('me') me(@CurrentSession() s: SessionContext) { return { id: s.userId }; }
}

const database = JSON.parse(process.env.CONSUMER_DB!) as DataSourceOptions;
@Module({
  imports: [
    TypeOrmModule.forRoot({ ...database, entities: [User, ...SESSION_REVOCATION_ENTITIES], synchronize: true } as any),
    SessionRevocationModule.forRoot({ userEntity: User, jwt: { secret: 'consumer-secret-that-is-long-enough-0123456789' } }),
  ],
  controllers: [AppController],
})
class AppModule {}

type Write = (users: Repository<User>, ds: DataSource, user: User) => Promise<unknown>;
const q = (ds: DataSource, name: string) => ds.driver.escape(name);
const table = (ds: DataSource) => ds.getMetadata(User).tablePath.split('.').map((p) => q(ds, p)).join('.');
const paths: Record<string, Write> = {
  'save(entity)': async (users, _ds, u) => users.save(Object.assign(await users.findOneByOrFail({ id: u.id }), { password: 'new' })),
  'save(plain object)': (users, _ds, u) => users.save({ id: u.id, password: 'new' }),
  'update()': (users, _ds, u) => users.update(u.id, { password: 'new' }),
  'QueryBuilder update()': (_users, ds, u) => ds.createQueryBuilder().update(User).set({ password: 'new' }).where('id = :id', { id: u.id }).execute(),
  'transaction': (_users, ds, u) => ds.transaction((m) => m.update(User, u.id, { password: 'new' })),
  'repository.upsert()': (users, _ds, u) => users.upsert({ email: u.email, password: 'new' }, ['email']),
  'manager.upsert()': (_users, ds, u) => ds.manager.upsert(User, { email: u.email, password: 'new' }, ['email']),
  'insert().orUpdate()': (_users, ds, u) =>
    ds.createQueryBuilder().insert().into(User).values({ email: u.email, password: 'new' }).orUpdate(['password'], ['email']).updateEntity(false).execute(),
  'increment()': (users, _ds, u) => users.increment({ id: u.id }, 'credentialsVersion', 1),
  'decrement()': (users, _ds, u) => users.decrement({ id: u.id }, 'credentialsVersion', 1),
  'softDelete() + restore()': async (users, _ds, u) => { await users.softDelete(u.id); await users.restore(u.id); },
  'softRemove() + recover()': async (users, _ds, u) => { const e = await users.findOneByOrFail({ id: u.id }); await users.softRemove(e); await users.recover(e); },
  'delete()': (users, _ds, u) => users.delete(u.id),
  'remove()': async (users, _ds, u) => users.remove(await users.findOneByOrFail({ id: u.id })),
  'query() raw UPDATE (trigger)': (_users, ds, u) => ds.query(\`UPDATE \${table(ds)} SET \${q(ds, 'password')} = 'raw' WHERE id = '\${u.id}'\`),
  'query() raw DELETE': (_users, ds, u) => ds.query(\`DELETE FROM \${table(ds)} WHERE id = '\${u.id}'\`),
  'callListeners(false) (trigger)': (_users, ds, u) =>
    ds.createQueryBuilder().update(User).set({ password: 'new' }).where('id = :id', { id: u.id }).callListeners(false).execute(),
  'control: upsert of another column': (users, _ds, u) => users.upsert({ email: u.email, password: 'old', name: 'Ada' }, ['email']),
};

const app = await NestFactory.create(AppModule, { logger: false });
await app.listen(0, '127.0.0.1');
const base = await app.getUrl();
const ds = app.get(DataSource);
const users = ds.getRepository(User);
await installSessionTokenTrigger(ds, User);
const tokenOf = async (id: string) =>
  (await users.createQueryBuilder('u').withDeleted().addSelect('u.sessionToken').where('u.id = :id', { id }).getOne())?.sessionToken ?? null;
const results: Record<string, { me: number; refresh: number; rotated: boolean | 'gone' }> = {};
let n = 0;
for (const [name, write] of Object.entries(paths)) {
  const user = await users.save(users.create({ email: \`u\${n++}@example.com\`, password: 'old' }));
  const tokens = (await (await fetch(\`\${base}/login/\${user.id}\`, { method: 'POST' })).json()) as { accessToken: string; refreshToken: string };
  const me = () => fetch(\`\${base}/me\`, { headers: { authorization: \`Bearer \${tokens.accessToken}\` } }).then((r) => r.status);
  if ((await me()) !== 200) throw new Error('login failed');
  const before = await tokenOf(user.id);
  await write(users, ds, user);
  const after = await tokenOf(user.id);
  // Writes TypeORM does not see reach the cache within its ttl (5 s without a bus): not checked here; refresh always asks the database.
  const blind = name.startsWith('query()') || name.startsWith('callListeners');
  const refresh = (await fetch(\`\${base}/refresh/\${encodeURIComponent(tokens.refreshToken)}\`, { method: 'POST' })).status;
  results[name] = { me: blind ? 0 : await me(), refresh, rotated: after === null ? 'gone' : after !== before };
}
await app.close();
console.log(JSON.stringify(results));
`;

const ENDED = { me: 401, refresh: 401, rotated: true };
const GONE = { me: 401, refresh: 401, rotated: 'gone' };
const EXPECTED: Record<string, object> = {
  'save(entity)': ENDED,
  'save(plain object)': ENDED,
  'update()': ENDED,
  'QueryBuilder update()': ENDED,
  transaction: ENDED,
  'repository.upsert()': ENDED,
  'manager.upsert()': ENDED,
  'insert().orUpdate()': ENDED,
  'increment()': ENDED,
  'decrement()': ENDED,
  'softDelete() + restore()': ENDED,
  'softRemove() + recover()': ENDED,
  'delete()': GONE,
  'remove()': GONE,
  'query() raw UPDATE (trigger)': { me: 0, refresh: 401, rotated: true },
  'query() raw DELETE': { me: 0, refresh: 401, rotated: 'gone' },
  'callListeners(false) (trigger)': { me: 0, refresh: 401, rotated: true },
  'control: upsert of another column': { me: 200, refresh: 201, rotated: false },
};

describe('a consumer app installing the packed tarball', () => {
  let out: string;
  beforeAll(async () => {
    const { app } = await packAndInstall('consumer-write-paths');
    writeFileSync(join(app, 'main.ts'), CONSUMER);
    out = await compileApp(app, ['main.ts']);
  }, 180_000);

  it.each(testDatabases())('ends old sessions on every write path (%s)', async (_name, database) => {
    const db = database();
    try {
      const { entities: _e, synchronize: _s, ...options } = (await db.options([])) as any;
      const stdout = await run(process.execPath, [join(out, 'main.js')], out, { CONSUMER_DB: JSON.stringify(options) });
      expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual(EXPECTED);
    } finally {
      await db.cleanup();
    }
  }, 60_000);
});
