import { Controller, Get, Module, Param, Post, type INestApplication } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Column, DataSource, DeleteDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import {
  CurrentSession,
  RequireFreshSession,
  RevokesSessions,
  SESSION_REVOCATION_ENTITIES,
  SessionRevocationModule,
  SessionService,
  SessionTokenColumn,
  SkipSessionCheck,
  type SessionContext,
  type SessionRevocationModuleOptions,
} from '../../lib/index.js';
import type { TestDatabase } from './databases.js';

/** The user entity of the minimal test apps. */
@Entity('users')
export class TestUser {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 191, unique: true })
  @RevokesSessions()
  email: string;

  @Column({ type: 'varchar' })
  @RevokesSessions()
  passwordHash: string;

  @Column({ type: 'varchar', default: '' })
  displayName: string;

  /** A numeric revoking column (for increment/decrement). */
  @Column({ type: 'int', default: 0 })
  @RevokesSessions()
  credentialsVersion: number;

  /** Soft deletion: a restored user must not get old sessions back. */
  @DeleteDateColumn({ nullable: true })
  deletedAt: Date | null;

  @SessionTokenColumn()
  sessionToken: string;
}

export const TEST_SECRET = 'test-secret-that-is-long-enough-0123456789';

/**
 * Routes of the minimal test apps: `POST /login/:id` (public), `GET /me` (guarded), `GET /me/fresh`
 * (a session fresh within 5 minutes), `GET /public`.
 */
@Controller()
export class TestController {
  constructor(private readonly sessions: SessionService) {}

  @SkipSessionCheck()
  @Post('login/:id')
  login(@Param('id') id: string) {
    return this.sessions.issue(Number(id), { userAgent: 'jest', ip: '127.0.0.1' });
  }

  @Get('me')
  me(@CurrentSession() session: SessionContext) {
    return session;
  }

  @RequireFreshSession('5m')
  @Get('me/fresh')
  fresh(@CurrentSession() session: SessionContext) {
    return session;
  }

  @SkipSessionCheck()
  @Get('public')
  open() {
    return { ok: true };
  }
}

export interface TestApp {
  app: INestApplication;
  dataSource: DataSource;
  sessions: SessionService;
  close(): Promise<void>;
}

/** Builds a minimal Nest app (Express or Fastify) with the module mounted on `db`. */
export async function createTestApp(
  db: TestDatabase,
  opts: { adapter?: 'express' | 'fastify'; options?: Partial<SessionRevocationModuleOptions> } = {},
): Promise<TestApp> {
  const dbOptions = await db.options([TestUser, ...SESSION_REVOCATION_ENTITIES]);
  @Module({
    imports: [
      TypeOrmModule.forRoot({ ...dbOptions, logging: false } as any),
      SessionRevocationModule.forRoot({
        userEntity: TestUser,
        jwt: { secret: TEST_SECRET, issuer: 'test', audience: 'test' },
        ...opts.options,
      }),
    ],
    controllers: [TestController],
  })
  class TestAppModule {}
  const app = await startApp(await Test.createTestingModule({ imports: [TestAppModule] }).compile(), opts.adapter);
  return {
    app,
    dataSource: app.get(DataSource),
    sessions: app.get(SessionService),
    async close() {
      await app.close();
      await db.cleanup();
    },
  };
}

/** Creates and initializes the Nest app of a compiled testing module, over Express (default) or Fastify, without Nest's logs. */
export async function startApp(moduleRef: TestingModule, adapter: 'express' | 'fastify' = 'express'): Promise<INestApplication> {
  if (adapter === 'express') return moduleRef.createNestApplication({ logger: false }).init();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}
