/**
 * The app of the NestJS docs' authentication chapter (passport recipe): a `LocalStrategy` for the
 * login, a passport-jwt `JwtStrategy` whose `validate(payload)` shapes `request.user`, a global
 * `JwtAuthGuard` with a `@Public()` decorator, and an `AuthService.login()` that signs
 * `{ username, sub }` with `JwtService`. Built as it is ('before'), and adopted in the ways
 * docs/passport.md describes:
 *
 * - 'strategy': `JwtStrategy extends SessionJwtStrategy`, login returns `sessions.issue()`, the
 *   module import replaces `JwtModule.register()` (with `mountGuard: false`: the app's guard guards);
 * - 'guard': no passport JWT at all: the library's global guard with `publicRouteKey: IS_PUBLIC_KEY`;
 * - 'both': the 'strategy' app with the library's guard mounted too (`publicRouteKey`);
 * - 'footgun': the 'before' app with the library imported next to its plain passport-jwt strategy.
 */
import { Body, Controller, Get, Headers, Injectable, Module, Post, Request, SetMetadata, UnauthorizedException, UseGuards, type ExecutionContext, type INestApplication, type Type } from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import { JwtModule, JwtService } from '@nestjs/jwt';
import { AuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ExtractJwt, Strategy as JwtPassportStrategy } from 'passport-jwt';
import { Strategy as LocalPassportStrategy } from 'passport-local';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import {
  CurrentSession,
  extractBearerToken,
  RevokesSessions,
  SESSION_REVOCATION_ENTITIES,
  SessionRevocationModule,
  SessionService,
  SessionTokenColumn,
  SkipSessionCheck,
  type LegacyTokenContext,
  type SessionContext,
  type SessionLegacyTokenOptions,
} from '../../lib/index.js';
import { SessionJwtStrategy } from '../../lib/passport/index.js';
import type { TestDatabase } from './databases.js';
import { startApp } from './test-app.js';

export type Adoption = 'before' | 'strategy' | 'guard' | 'both' | 'footgun';

/** The docs' `jwtConstants.secret`; the adopted app keeps it for the library, as apps do. */
export const DOCS_SECRET = 'docs-chapter-secret-do-not-use-in-production-0123';

@Entity('docs_users')
export class DocsUser {
  @PrimaryGeneratedColumn() id: number;
  @Column({ type: 'varchar', unique: true }) username: string;
  @Column({ type: 'varchar' }) @RevokesSessions() password: string;
  @SessionTokenColumn() sessionToken: string;
}

// --- The docs' pieces ------------------------------------------------------------------------

export const IS_PUBLIC_KEY = 'isPublic';
export const Public = () => SetMetadata(IS_PUBLIC_KEY, true);

@Injectable()
class UsersService {
  constructor(private readonly dataSource: DataSource) {}
  findOne(username: string) {
    return this.dataSource.getRepository(DocsUser).findOneBy({ username });
  }
}

@Injectable()
class LocalStrategy extends PassportStrategy(LocalPassportStrategy) {
  constructor(private readonly users: UsersService) {
    super();
  }
  async validate(username: string, password: string) {
    const user = await this.users.findOne(username);
    if (!user || user.password !== password) throw new UnauthorizedException();
    return user;
  }
}

@Injectable()
class LocalAuthGuard extends AuthGuard('local') {}

@Injectable()
class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(private readonly reflector: Reflector) {
    super();
  }
  canActivate(context: ExecutionContext) {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [context.getHandler(), context.getClass()]);
    if (isPublic) return true;
    return super.canActivate(context);
  }
}

// --- Before: passport-jwt and JwtService ----------------------------------------------------

@Injectable()
class PlainJwtStrategy extends PassportStrategy(JwtPassportStrategy) {
  constructor() {
    super({ jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), ignoreExpiration: false, secretOrKey: DOCS_SECRET });
  }
  async validate(payload: any) {
    return { userId: payload.sub, username: payload.username };
  }
}

@Injectable()
class JwtAuthService {
  constructor(private readonly jwtService: JwtService) {}
  async login(user: DocsUser) {
    return { access_token: this.jwtService.sign({ username: user.username, sub: user.id }) };
  }
}

// --- After: the library ----------------------------------------------------------------------

@Injectable()
class JwtStrategy extends SessionJwtStrategy {
  validate(session: SessionContext | LegacyTokenContext, claims: Readonly<Record<string, unknown>>) {
    return { userId: session.userId, username: claims.username };
  }
}

@Injectable()
class SessionAuthService {
  constructor(private readonly sessions: SessionService) {}
  async login(user: DocsUser) {
    return this.sessions.issue(user, {}, { claims: { username: user.username } });
  }
}

// --- Routes ----------------------------------------------------------------------------------

abstract class AuthService {
  abstract login(user: DocsUser): Promise<unknown>;
}

@Controller()
class AppController {
  constructor(private readonly authService: AuthService) {}

  @Public() @UseGuards(LocalAuthGuard) @Post('auth/login')
  login(@Request() req: { user: DocsUser }) {
    return this.authService.login(req.user);
  }

  @Get('profile')
  getProfile(@Request() req: { user: unknown }) {
    return req.user;
  }

  @Public() @Get('public')
  open() {
    return { ok: true };
  }
}

/** Routes the adopted apps add: the device list needs a session; refresh and the legacy bridge are public. */
@Controller()
class SessionRoutesController {
  constructor(private readonly sessions: SessionService) {}

  @Get('sessions')
  list(@CurrentSession() session: SessionContext) {
    return this.sessions.list(session.userId, session.sessionId);
  }

  @Public() @Post('auth/refresh')
  refresh(@Body('refreshToken') refreshToken: string) {
    return this.sessions.refresh(refreshToken);
  }

  @Public() @Post('auth/exchange')
  exchange(@Headers('authorization') authorization: string | undefined) {
    return this.sessions.exchangeLegacyToken(extractBearerToken({ headers: { authorization } }) ?? '', {}, { claims: { username: 'exchanged' } });
  }
}

/** A route that skips the library's guard but is guarded by passport's 'jwt' strategy. */
@Controller()
class SkippedController {
  @SkipSessionCheck() @UseGuards(AuthGuard('jwt')) @Get('skipped')
  skipped(@Request() req: { user: unknown }) {
    return req.user;
  }
}

export interface DocsApp {
  app: INestApplication;
  server: any;
  dataSource: DataSource;
  sessions?: SessionService;
  close(): Promise<void>;
}

/** Builds the docs' app in one of its adoptions, over Express or Fastify, on `db`. */
export async function createDocsApp(
  db: TestDatabase,
  opts: { adoption: Adoption; adapter?: 'express' | 'fastify'; legacyTokens?: SessionLegacyTokenOptions },
): Promise<DocsApp> {
  const { adoption } = opts;
  const library = adoption !== 'before';
  const sessionStrategy = adoption === 'strategy' || adoption === 'both';
  const appGuard = adoption !== 'guard';
  const controllers: Type[] = [AppController];
  if (library && adoption !== 'footgun') controllers.push(SessionRoutesController);
  if (adoption !== 'guard') controllers.push(SkippedController);
  @Module({
    imports: [
      TypeOrmModule.forRoot({ ...(await db.options([DocsUser, ...SESSION_REVOCATION_ENTITIES])), logging: false } as any),
      PassportModule,
      library
        ? SessionRevocationModule.forRoot({
            userEntity: DocsUser,
            jwt: { secret: DOCS_SECRET },
            ...(adoption === 'guard' || adoption === 'both' ? { publicRouteKey: IS_PUBLIC_KEY } : {}),
            ...(opts.legacyTokens ? { legacyTokens: opts.legacyTokens } : {}),
            mountGuard: adoption !== 'strategy',
          })
        : JwtModule.register({ secret: DOCS_SECRET, signOptions: { expiresIn: '60s' } }),
      ...(adoption === 'footgun' ? [JwtModule.register({ secret: DOCS_SECRET, signOptions: { expiresIn: '60s' } })] : []),
    ],
    controllers,
    providers: [
      UsersService,
      LocalStrategy,
      { provide: AuthService, useClass: sessionStrategy || adoption === 'guard' ? SessionAuthService : JwtAuthService },
      ...(adoption === 'guard' ? [] : [sessionStrategy ? JwtStrategy : PlainJwtStrategy]),
      ...(appGuard ? [{ provide: APP_GUARD, useClass: JwtAuthGuard }] : []),
    ],
  })
  class DocsAppModule {}
  const app = await startApp(await Test.createTestingModule({ imports: [DocsAppModule] }).compile(), opts.adapter);
  return {
    app,
    server: app.getHttpServer(),
    dataSource: app.get(DataSource),
    sessions: library ? app.get(SessionService) : undefined,
    async close() {
      await app.close();
      await db.cleanup();
    },
  };
}
