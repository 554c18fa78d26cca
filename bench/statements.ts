/**
 * Child process of bench/run.ts: times `invalidateSessions` and `invalidateAllSessions` for a
 * user with 10 / 1,000 / 10,000 live sessions and counts the SQL statements each sends
 * (a TypeORM Logger's `logQuery` sees every statement, transaction control included).
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DataSource, IsNull } from 'typeorm';
import { AuthSession, SessionRevocationModule, SessionService } from '../lib/index.js';
import { BENCH_JWT, BenchUser, dataSourceOptions, oneLine, round, StatementListener, type DbSpec } from './common.js';

const { db, sizes } = JSON.parse(process.argv[2]) as { db: DbSpec; sizes: number[] };

/** Records the statements sent while `recording` is on. */
class CountingLogger extends StatementListener {
  recording = false;
  statements: string[] = [];
  constructor() {
    super((sql) => {
      if (this.recording) this.statements.push(oneLine(sql));
    });
  }
}

async function main(): Promise<void> {
  const logger = new CountingLogger();
  @Module({
    imports: [
      TypeOrmModule.forRoot({ ...dataSourceOptions(db, true, logger), logging: true } as any),
      SessionRevocationModule.forRoot({ userEntity: BenchUser, jwt: BENCH_JWT, mountGuard: false }),
    ],
  })
  class StatementsModule {}
  const app = await NestFactory.createApplicationContext(StatementsModule, { logger: ['error'] });
  const sessions = app.get(SessionService);
  const dataSource = app.get(DataSource);
  const sessionRepo = dataSource.getRepository(AuthSession);

  async function userWithSessions(count: number, label: string): Promise<number> {
    const user = await dataSource.getRepository(BenchUser).save({ email: `${label}-${count}@bench.example`, passwordHash: 'h' });
    // One real session through the library, then count - 1 copies of its row (bulk INSERT).
    await sessions.issue(user.id);
    const template = await sessionRepo.findOneByOrFail({ userId: String(user.id) });
    const now = Date.now();
    const rows: AuthSession[] = [];
    for (let i = 1; i < count; i++) {
      rows.push({ ...template, id: randomUUID(), createdAt: now, lastSeenAt: now });
    }
    for (let i = 0; i < rows.length; i += 500) await sessionRepo.insert(rows.slice(i, i + 500));
    const live = await sessionRepo.countBy({ userId: String(user.id), endedAt: IsNull() });
    if (live !== count) throw new Error(`expected ${count} live sessions, found ${live}`);
    return user.id;
  }

  async function measure<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number; statements: string[] }> {
    logger.statements = [];
    logger.recording = true;
    const start = performance.now();
    const result = await fn();
    const ms = performance.now() - start;
    logger.recording = false;
    return { result, ms: round(ms), statements: logger.statements };
  }

  const results = [];
  for (const size of sizes) {
    const a = await userWithSessions(size, 'invalidate');
    const invalidate = await measure(() => sessions.invalidateSessions(a));
    if (invalidate.result !== size) throw new Error(`invalidateSessions ended ${invalidate.result} of ${size}`);
    await userWithSessions(size, 'all');
    const all = await measure(() => sessions.invalidateAllSessions());
    results.push({
      sessions: size,
      invalidateSessions: { ms: invalidate.ms, statements: invalidate.statements.length, sql: invalidate.statements },
      invalidateAllSessions: { ms: all.ms, statements: all.statements.length, sql: all.statements },
    });
  }
  await app.close();
  process.send!({ results });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
