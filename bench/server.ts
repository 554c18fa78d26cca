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
import { createSecretKey } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { DataSource } from 'typeorm';
import { CurrentSession, SessionRevocationModule, SessionService, type SessionContext, type SessionRevocationModuleOptions } from '../lib/index.js';
import { RevocationNotifier } from '../lib/bus/revocation-notifier.js';
import { SessionJwtStrategy } from '../lib/passport/index.js';
import { SessionConnectionRegistry } from '../lib/core/session-connection-registry.js';
import { SessionIoAdapter } from '../lib/socket.io/index.js';
import { BENCH_JWT, BENCH_SECRET, BenchUser, dataSourceOptions, serveIpc, StatementListener, type ServerConfig } from './common.js';

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
  readonly byText = new Map<string, number>();
  constructor() {
    super((sql) => {
      this.count++;
      const text = sql.slice(0, 120);
      this.byText.set(text, (this.byText.get(text) ?? 0) + 1);
    });
  }
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
  const dataSource = app.get(DataSource);
  const users = dataSource.getRepository(BenchUser);

  serveIpc({
    /** Creates `count` users with one session each; returns their tokens. */
    async seed({ count, prefix }: { count: number; prefix: string }) {
      const out: Array<{ userId: number; sessionId: string; token: string }> = [];
      for (let start = 0; start < count; start += 500) {
        const batch = Array.from({ length: Math.min(500, count - start) }, (_, i) => ({
          email: `${prefix}-${start + i}@bench.example`,
          passwordHash: 'not-a-real-hash',
        }));
        const saved = await users.save(batch);
        for (const user of saved) {
          const tokens = await sessions.issue(user.id, { userAgent: 'bench', ip: '127.0.0.1' });
          out.push({ userId: user.id, sessionId: tokens.sessionId, token: tokens.accessToken });
        }
      }
      return out;
    },
    async issue({ userId }: { userId: number }) {
      const tokens = await sessions.issue(userId, { userAgent: 'bench', ip: '127.0.0.1' });
      return { userId, sessionId: tokens.sessionId, token: tokens.accessToken };
    },
    invalidateSessions: ({ userId }: { userId: number }) => sessions.invalidateSessions(userId),
    revokeSession: ({ userId, sessionId }: { userId: number; sessionId: string }) => sessions.revokeSession(userId, sessionId),
    /** revokeSession, timed in this process (ms): what the revoking request itself waits. */
    async revokeSessionTimed({ userId, sessionId }: { userId: number; sessionId: string }) {
      const started = performance.now();
      await sessions.revokeSession(userId, sessionId);
      return performance.now() - started;
    },
    /** Sockets registered with the library, and the heap after a full GC (needs --expose-gc). */
    sockets: () => {
      (globalThis as { gc?: () => void }).gc?.();
      return { registered: app.get(SessionConnectionRegistry).size, heapUsed: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss };
    },
    status: () => ({ bypassed: notifier.cache.bypassed, cacheSize: notifier.cache.size, cacheMax: notifier.cache.max }),
    memory: () => process.memoryUsage(),
    statements: () => counter.count,
    statementDetail: () => Object.fromEntries(counter.byText),
    async close() {
      setImmediate(async () => {
        await app.close();
        process.exit(0);
      });
      return true;
    },
  });
  process.send!({ ready: port });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
