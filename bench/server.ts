/**
 * A benchmark server (child process of bench/run.ts): one Nest app (Express) serving
 * `GET /me` behind the guard named in the config (and, for the sockets part, the socket.io
 * namespace `/live`), listening on 127.0.0.1, driven over IPC.
 */
import 'reflect-metadata';
import { Controller, Get, Injectable, Module, Req, UseGuards, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { DataSource, In } from 'typeorm';
import { AuthSession, CurrentSession, SessionRevocationModule, SessionService, SessionStore, TypeOrmSessionStore, type SessionContext, type SessionRevocationModuleOptions } from '../lib/index.js';
import { AccessTokens } from '../lib/core/access-tokens.js';
import { RevocationNotifier } from '../lib/bus/revocation-notifier.js';
import { SessionJwtStrategy } from '../lib/passport/index.js';
import { SessionConnectionRegistry } from '../lib/core/session-connection-registry.js';
import { SessionIoAdapter } from '../lib/socket.io/index.js';
import { BENCH_JWT, BENCH_SECRET, BenchUser, dataSourceOptions, oneLine, serveIpc, StatementListener, type ServerConfig } from './common.js';

const config: ServerConfig = JSON.parse(process.argv[2]);

/** (a) No guard at all: the floor of Nest + Express + JSON. */
@Controller()
class OpenController {
  @Get('me')
  me() {
    return { userId: 1, sessionId: '00000000-0000-4000-8000-000000000000' };
  }
}

/**
 * (b) @nestjs/passport + passport-jwt: signature, exp, iss, aud only; no revocation. The
 * secret is a string as in passport-jwt's docs, or a KeyObject (see RESULTS.md: jsonwebtoken
 * spends ~0.4 ms per verify on a string secret).
 */
@Injectable()
class JwtStrategy extends PassportStrategy(Strategy) {
  constructor() {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      secretOrKey: (config.guard === 'passport-keyobject' ? createSecretKey(Buffer.from(BENCH_SECRET)) : BENCH_SECRET) as any,
      algorithms: ['HS256'],
      issuer: BENCH_JWT.issuer,
      audience: BENCH_JWT.audience,
    });
  }

  validate(payload: { sub: string; sid: string }) {
    return { userId: Number(payload.sub), sessionId: payload.sid };
  }
}

/** (f) The same route with this library's strategy: one verification, then the revocation check. */
@Injectable()
class BenchSessionJwtStrategy extends SessionJwtStrategy {
  validate(session: SessionContext) {
    return { userId: session.userId, sessionId: session.sessionId };
  }
}

@Controller()
class PassportController {
  @UseGuards(AuthGuard('jwt'))
  @Get('me')
  me(@Req() request: { user: unknown }) {
    return request.user;
  }
}

/** The sockets part: socket.io namespace `/live`, authenticated by `SessionIoAdapter`. */
@WebSocketGateway({ namespace: '/live' })
class LiveGateway {
  @SubscribeMessage('whoami')
  whoami(@CurrentSession() session: SessionContext) {
    return { userId: session.userId, sessionId: session.sessionId };
  }
}

/** (c), (d) and (e): this library's global guard. */
@Controller()
class SessionController {
  @Get('me')
  me(@CurrentSession() session: SessionContext) {
    return { userId: session.userId, sessionId: session.sessionId };
  }
}

function moduleOptions(): SessionRevocationModuleOptions {
  const options: SessionRevocationModuleOptions = { userEntity: BenchUser, jwt: BENCH_JWT };
  if (config.guard === 'strict') options.cache = false;
  if (config.bus?.kind === 'redis') options.redis = { url: config.bus.url, channel: config.bus.channel };
  if (config.bus?.kind === 'postgres') options.postgresNotify = { channel: config.bus.channel };
  return options;
}

/** Counts the SQL statements the app sends (TypeORM calls a custom logger's logQuery for each). */
class StatementCounter extends StatementListener {
  count = 0;
  byText = new Map<string, number>();
  constructor() {
    super((sql) => {
      this.count++;
      this.byText.set(sql, (this.byText.get(sql) ?? 0) + 1);
    });
  }
  reset(): void {
    this.count = 0;
    this.byText = new Map();
  }
}

/** Times every call of `object[method]` into `into` (ms). */
function timeCalls(object: any, method: string, into: number[]): void {
  const original = object[method].bind(object);
  object[method] = async (...args: unknown[]) => {
    const start = performance.now();
    try {
      return await original(...args);
    } finally {
      into.push(performance.now() - start);
    }
  };
}

/** Runs `tasks` with at most `concurrency` at a time; resolves with the elapsed ms. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
  return performance.now() - start;
}

async function main(): Promise<void> {
  const sessionStrategy = config.guard === 'session-strategy';
  const passport = config.guard === 'passport' || config.guard === 'passport-keyobject' || sessionStrategy;
  const guarded = !passport && config.guard !== 'none';
  const controllers: Type[] = config.guard === 'none' ? [OpenController] : passport ? [PassportController] : [SessionController];
  const counter = new StatementCounter();
  @Module({
    imports: [
      TypeOrmModule.forRoot({ ...dataSourceOptions(config.db, config.synchronize, counter), logging: false } as any),
      // Always imported (the benchmark issues its tokens through it); its guard only for this library's rows.
      SessionRevocationModule.forRoot({ ...moduleOptions(), mountGuard: guarded }),
      ...(passport ? [PassportModule] : []),
    ],
    controllers,
    providers: [...(passport ? [sessionStrategy ? BenchSessionJwtStrategy : JwtStrategy] : []), ...(config.sockets ? [LiveGateway] : [])],
  })
  class BenchAppModule {}

  const app = await NestFactory.create(BenchAppModule, { logger: ['error'] });
  if (config.sockets) app.useWebSocketAdapter(new SessionIoAdapter(app));
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as { port: number }).port;
  const sessions = app.get(SessionService);
  const notifier = app.get(RevocationNotifier);
  const tokens = app.get(AccessTokens, { strict: false });
  const store = app.get<SessionStore>(SessionStore as any);
  const dataSource = app.get(DataSource);
  const users = dataSource.getRepository(BenchUser);
  let profiler: Session | undefined;
  // Phases of the revoking calls (ms), to tell what makes them slow under load.
  const phases = { storeWrite: [] as number[], busPublish: [] as number[] };
  // How late the event loop runs what is ready (what every await of a revoking call waits for under load).
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  timeCalls(store, 'endSession', phases.storeWrite);
  const bus = (notifier as any).bus;
  if (bus) timeCalls(bus, 'publish', phases.busPublish);
  const gc = (globalThis as { gc?: () => void }).gc;

  const handlers: Record<string, (args: any) => unknown> = {
    /**
     * `count` users with one session each, inserted in bulk (1,000 rows a statement), their
     * access tokens minted by the library's AccessTokens: written to `file` one a line (then the
     * count and the time are returned), or returned with their user and session ids.
     */
    async seed({ count, prefix, file }: { count: number; prefix: string; file?: string }) {
      const start = performance.now();
      const out: string[] = [];
      const seeded: Array<{ userId: number; sessionId: string; token: string }> = [];
      const now = Date.now();
      for (let first = 0; first < count; first += 1000) {
        const size = Math.min(1000, count - first);
        const rows = Array.from({ length: size }, (_, i) => ({ email: `${prefix}-${first + i}@bench.example`, passwordHash: 'not-a-real-hash', sessionToken: randomBytes(16).toString('hex') }));
        // updateEntity(false): no read-back of generated columns (SQLite's would nest 1,000 ORs, past its expression depth).
        await users.createQueryBuilder().insert().values(rows).updateEntity(false).execute();
        const saved = await users.find({ select: { id: true, sessionToken: true }, where: { email: In(rows.map((row) => row.email)) } });
        const records = saved.map((user) => ({
          id: randomUUID(),
          userId: String(user.id),
          sessionTokenFingerprint: tokens.fingerprint(user.id, user.sessionToken),
          userAgent: 'bench',
          ip: '127.0.0.1',
          createdAt: now,
          lastSeenAt: now,
          expiresAt: now + 2_592_000_000,
          absoluteExpiresAt: now + 7_776_000_000,
          endedAt: null,
          endReason: null,
          authTime: now,
          claims: null,
        }));
        await dataSource.getRepository(AuthSession).createQueryBuilder().insert().values(records).updateEntity(false).execute();
        for (let i = 0; i < records.length; i++) {
          const token = tokens.mint(saved[i].id, records[i]);
          if (file) out.push(token);
          else seeded.push({ userId: saved[i].id, sessionId: records[i].id, token });
        }
      }
      // As a database in service would be: vacuumed and with planner statistics (autovacuum would
      // otherwise do it during the measurement, on the same cores).
      if (dataSource.options.type === 'postgres') {
        for (const entity of [BenchUser, AuthSession]) await dataSource.query(`VACUUM ANALYZE ${dataSource.getMetadata(entity).tablePath.split('.').map((part) => `"${part}"`).join('.')}`);
      }
      if (!file) return seeded;
      writeFileSync(file, `${out.join('\n')}\n`);
      return { count: out.length, ms: Math.round(performance.now() - start) };
    },
    /** `count` users for login measurements; returns their ids. */
    async createUsers({ count, prefix }: { count: number; prefix: string }) {
      const ids: number[] = [];
      for (let first = 0; first < count; first += 1000) {
        const rows = Array.from({ length: Math.min(1000, count - first) }, (_, i) => ({ email: `${prefix}-${first + i}@bench.example`, passwordHash: 'h' }));
        ids.push(...(await users.save(rows)).map((u) => u.id));
      }
      return ids;
    },
    async issue({ userId }: { userId: number }) {
      const issued = await sessions.issue(userId, { userAgent: 'bench', ip: '127.0.0.1' });
      return { userId, sessionId: issued.sessionId, token: issued.accessToken };
    },
    /** issue() for every user (`concurrency` at a time), then refresh() of every session once. */
    async loginsAndRefreshes({ userIds, concurrency }: { userIds: number[]; concurrency: number }) {
      const refreshTokens: string[] = [];
      const loginMs = await pool(userIds.length, concurrency, async (i) => {
        refreshTokens[i] = (await sessions.issue(userIds[i], { userAgent: 'bench', ip: '127.0.0.1' })).refreshToken;
      });
      const statementsBefore = counter.count;
      const refreshMs = await pool(refreshTokens.length, concurrency, (i) => sessions.refresh(refreshTokens[i]));
      const refreshStatements = (counter.count - statementsBefore) / refreshTokens.length;
      return { logins: userIds.length, loginMs, refreshMs, refreshStatements };
    },
    /** One revocation, timed here (the IPC round trip is not in it). */
    async revokeSession({ userId, sessionId }: { userId: number; sessionId: string }) {
      const start = performance.now();
      await sessions.revokeSession(userId, sessionId);
      return performance.now() - start;
    },
    /** The same, under the name the sockets part uses. */
    revokeSessionTimed: (args: { userId: number; sessionId: string }) => handlers.revokeSession(args),
    invalidateSessions: ({ userId }: { userId: number }) => sessions.invalidateSessions(userId),
    /** Sockets registered with the library, and the heap after a full GC (needs --expose-gc). */
    sockets: () => {
      gc?.();
      return { registered: app.get(SessionConnectionRegistry).size, heapUsed: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss };
    },
    phases: () => ({ ...phases, eventLoopDelayP99Ms: loopDelay.percentile(99) / 1e6, eventLoopDelayMaxMs: loopDelay.max / 1e6 }),
    /** Starts a new event-loop delay histogram. */
    resetLoopDelay: () => void loopDelay.reset(),
    status() {
      gc?.();
      return { bypassed: notifier.cache.bypassed, cacheSize: notifier.cache.size, cacheMax: notifier.cache.max, heapMB: process.memoryUsage().heapUsed / 2 ** 20 };
    },
    /** The SQL text of the one statement a cache miss sends (TypeORM store). */
    stateSql: () => (store as TypeOrmSessionStore).readSessionStateSql,
    resetStatements: () => counter.reset(),
    statements: () => ({ count: counter.count, byText: Object.fromEntries([...counter.byText].map(([sql, n]) => [oneLine(sql), n])) }),
    /** CPU profile of this process from `profileStart` to `profileStop` (written as a .cpuprofile file). */
    async profileStart() {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
      return true;
    },
    async profileStop({ file }: { file: string }) {
      const { profile } = await profiler!.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      profiler!.disconnect();
      profiler = undefined;
      return file;
    },
    async close() {
      setImmediate(async () => {
        await app.close();
        process.exit(0);
      });
      return true;
    },
  };
  serveIpc(handlers as Record<string, (args: any) => Promise<unknown> | unknown>);
  process.send!({ ready: port });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
