import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { SESSION_REVOCATION_ENTITIES, SessionGuard, SessionRevocationModule, SessionService } from '../lib/index.js';
import { TEST_SECRET, TestUser } from './support/test-app.js';

const sqlite = (entities: any[]) => TypeOrmModule.forRoot({ type: 'better-sqlite3', database: ':memory:', entities, synchronize: true });

@Injectable()
class FakeConfig {
  get(key: string) {
    return ({ JWT_SECRET: TEST_SECRET, ACCESS_TTL: '5m' } as Record<string, string>)[key];
  }
}
@Module({ providers: [FakeConfig], exports: [FakeConfig] })
class FakeConfigModule {}

@Controller()
class PingController {
  @Get('ping') ping() {
    return 'pong';
  }
}

describe('SessionRevocationModule', () => {
  it('builds with forRootAsync (imports + inject) and mounts the guard', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        sqlite([TestUser, ...SESSION_REVOCATION_ENTITIES]),
        SessionRevocationModule.forRootAsync({
          imports: [FakeConfigModule],
          inject: [FakeConfig],
          useFactory: (config: FakeConfig) => ({ userEntity: TestUser, jwt: { secret: config.get('JWT_SECRET'), accessTtl: config.get('ACCESS_TTL') } }),
        }),
      ],
      controllers: [PingController],
    }).compile();
    const app = await moduleRef.createNestApplication({ logger: false }).init();
    try {
      await request(app.getHttpServer()).get('/ping').expect(401);
      const user = await app.get(DataSource).getRepository(TestUser).save({ email: 'a@example.com', passwordHash: 'h' });
      const tokens = await app.get(SessionService).issue(user);
      expect(tokens.expiresIn).toBe(300);
      await request(app.getHttpServer()).get('/ping').set('Authorization', `Bearer ${tokens.accessToken}`).expect(200);
    } finally {
      await app.close();
    }
  });

  it('mounts no global guard with mountGuard: false, and the guard stays usable per route', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        sqlite([TestUser, ...SESSION_REVOCATION_ENTITIES]),
        SessionRevocationModule.forRoot({ userEntity: TestUser, jwt: { secret: TEST_SECRET }, mountGuard: false }),
      ],
      controllers: [PingController],
    }).compile();
    const app = await moduleRef.createNestApplication({ logger: false }).init();
    try {
      await request(app.getHttpServer()).get('/ping').expect(200);
      expect(app.get(SessionGuard)).toBeInstanceOf(SessionGuard);
    } finally {
      await app.close();
    }
  });

  it('lets an app override the guard', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [sqlite([TestUser, ...SESSION_REVOCATION_ENTITIES]), SessionRevocationModule.forRoot({ userEntity: TestUser, jwt: { secret: TEST_SECRET } })],
      controllers: [PingController],
    })
      .overrideProvider(SessionGuard)
      .useValue({ canActivate: () => true })
      .compile();
    const app = await moduleRef.createNestApplication({ logger: false }).init();
    try {
      await request(app.getHttpServer()).get('/ping').expect(200);
    } finally {
      await app.close();
    }
  });

  it.each([
    ['a short secret', { userEntity: TestUser, jwt: { secret: 'short' } }, [TestUser, ...SESSION_REVOCATION_ENTITIES], /'jwt.secret' must be at least 32 bytes/],
    ['missing library entities', { userEntity: TestUser, jwt: { secret: TEST_SECRET } }, [TestUser], /add SESSION_REVOCATION_ENTITIES/],
  ])('fails at startup on %s with a clear message', async (_case, options, entities, message) => {
    const build = Test.createTestingModule({ imports: [sqlite(entities), SessionRevocationModule.forRoot(options as any)] }).compile();
    await expect(build).rejects.toThrow(message);
  });

  it('fails at startup without any DataSource', async () => {
    const build = Test.createTestingModule({ imports: [SessionRevocationModule.forRoot({ userEntity: TestUser, jwt: { secret: TEST_SECRET } })] }).compile();
    await expect(build).rejects.toThrow(/option 'dataSource' is missing/);
  });

  it('uses an explicitly given DataSource', async () => {
    const dataSource = await new DataSource({ type: 'better-sqlite3', database: ':memory:', entities: [TestUser, ...SESSION_REVOCATION_ENTITIES], synchronize: true }).initialize();
    @Module({ imports: [SessionRevocationModule.forRoot({ userEntity: TestUser, jwt: { secret: TEST_SECRET }, dataSource, isGlobal: true })] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = await moduleRef.createNestApplication({ logger: false }).init();
    try {
      const user = await dataSource.getRepository(TestUser).save({ email: 'b@example.com', passwordHash: 'h' });
      const tokens = await app.get(SessionService).issue(user.id);
      expect(await app.get(SessionService).authenticate(tokens.accessToken)).toMatchObject({ userId: user.id });
    } finally {
      await app.close();
      await dataSource.destroy();
    }
  });
});
