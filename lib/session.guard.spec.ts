import { Controller, Get, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { SkipSessionCheck } from './decorators/skip-session-check.decorator.js';
import { SessionGuard } from './session.guard.js';
import { extractBearerToken } from './http/token-extractors.js';
import { SessionRefusedError } from './session-revocation.errors.js';

describe('extractBearerToken', () => {
  const req = (authorization?: unknown, rawHeaders?: string[]) => ({ headers: { authorization }, rawHeaders });
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc.def.ghi', 'abc.def.ghi'],
    ['BEARER   abc.def.ghi  ', 'abc.def.ghi'],
  ])('reads %p', (header, token) => expect(extractBearerToken(req(header))).toBe(token));

  it('says undefined when there is no header', () => expect(extractBearerToken(req())).toBeUndefined());

  it.each([['Bearer'], ['Bearer '], ['Basic abc'], ['Bearer a b'], ['Bearer a\u0000b'], [['Bearer a', 'Bearer b']], [42], [`Bearer ${'a'.repeat(9000)}`]])(
    'says null for unusable %p',
    (header) => expect(extractBearerToken(req(header))).toBeNull(),
  );

  it('refuses repeated Authorization headers', () => {
    expect(extractBearerToken(req('Bearer a.b.c', ['Authorization', 'Bearer a.b.c', 'authorization', 'Bearer x.y.z']))).toBeNull();
  });

  it('survives requests without headers', () => {
    expect(extractBearerToken(undefined)).toBeUndefined();
    expect(extractBearerToken({})).toBeUndefined();
  });
});

describe('SessionGuard contexts', () => {
  const config = (nonHttpContexts: 'skip' | 'deny' = 'skip') => ({ nonHttpContexts, tokenExtractor: extractBearerToken }) as any;
  const reflector = { getAllAndOverride: () => undefined } as any;
  const adapterHost = { httpAdapter: { setHeader: (res: any, k: string, v: string) => (res.headers[k] = v) } } as any;
  const sessions = (result: unknown) =>
    ({
      authenticate: async (request: any, token: string) => {
        if (token !== 'good') throw new SessionRefusedError('malformed');
        request.sessionContext = result;
        return { session: result };
      },
    }) as any;
  const context = (type: string, args: unknown[]) =>
    ({
      getType: () => type,
      getHandler: () => undefined,
      getClass: () => undefined,
      getArgByIndex: (i: number) => args[i],
      switchToHttp: () => ({ getRequest: () => args[0], getResponse: () => args[1] }),
    }) as any;
  const session = { userId: 1, sessionId: 's' };

  it.each([
    ['rpc', undefined, true],
    ['ws', 'skip', true],
    ['rpc', 'deny', false],
    ['ws', 'deny', false],
  ] as const)('%s contexts with policy %s → %s', async (type, policy, expected) => {
    const guard = new SessionGuard(reflector, sessions(session), config(policy), adapterHost);
    await expect(guard.canActivate(context(type, [{}, {}]))).resolves.toBe(expected);
  });

  it('checks GraphQL requests from the GraphQL context', async () => {
    const guard = new SessionGuard(reflector, sessions(session), config(), adapterHost);
    const req = { headers: { authorization: 'Bearer good' } };
    await expect(guard.canActivate(context('graphql', [{}, {}, { req, res: { headers: {} } }]))).resolves.toBe(true);
    expect((req as any).sessionContext).toBe(session);
    const res = { headers: {} as Record<string, string> };
    await expect(guard.canActivate(context('graphql', [{}, {}, { req: { headers: { authorization: 'Bearer bad' } }, res }]))).rejects.toMatchObject({ status: 401 });
    expect(res.headers['WWW-Authenticate']).toBe('Bearer error="invalid_token"');
    await expect(guard.canActivate(context('graphql', [{}, {}, {}]))).rejects.toMatchObject({ status: 401 });
  });
});

describe('SessionGuard public routes', () => {
  const Public = () => SetMetadata('isPublic', true);
  @Controller()
  class Routes {
    @Public() @Get() open() {}
    @Get() closed() {}
    @Public() @SkipSessionCheck(false) @Get() forcedOn() {}
  }
  @Public() @Controller()
  class PublicRoutes {
    @Get() open() {}
    @SkipSessionCheck(false) @Get() checked() {}
  }
  const guard = (publicRouteKey?: string) =>
    new SessionGuard(new Reflector(), { authenticate: async () => { throw new SessionRefusedError('malformed'); } } as any, { publicRouteKey, tokenExtractor: () => undefined } as any, {} as any);
  const http = (cls: Function, handler: Function) =>
    ({ getType: () => 'http', getHandler: () => handler, getClass: () => cls, switchToHttp: () => ({ getRequest: () => ({ headers: {} }), getResponse: () => undefined }) }) as any;

  it.each([
    [Routes, Routes.prototype.open, true],
    [Routes, Routes.prototype.closed, false],
    [Routes, Routes.prototype.forcedOn, false],
    [PublicRoutes, PublicRoutes.prototype.open, true],
    [PublicRoutes, PublicRoutes.prototype.checked, false],
  ])('honours the app\'s public key: %p.%p open → %p', async (cls, handler, open) => {
    const result = guard('isPublic').canActivate(http(cls, handler));
    if (open) await expect(result).resolves.toBe(true);
    else await expect(result).rejects.toMatchObject({ status: 401 });
  });

  it('ignores the app\'s key unless configured', async () => {
    await expect(guard().canActivate(http(Routes, Routes.prototype.open))).rejects.toMatchObject({ status: 401 });
  });
});
