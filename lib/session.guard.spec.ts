import { Controller, Get, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { SkipSessionCheck } from './decorators/skip-session-check.decorator.js';
import { SessionGuard } from './session.guard.js';
import { extractBearerToken } from './http/token-extractors.js';
import { RpcException } from '@nestjs/microservices';
import { WsException } from '@nestjs/websockets';
import { getSessionContext } from './decorators/current-session.decorator.js';
import { SessionRefusedError, SessionStoreUnavailableError } from './session-revocation.errors.js';

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
  const config = (nonHttpContexts?: 'authenticate' | 'skip' | 'deny') =>
    ({ nonHttpContexts: nonHttpContexts ?? 'authenticate', tokenExtractor: extractBearerToken }) as any;
  const reflector = { getAllAndOverride: () => undefined } as any;
  const adapterHost = { httpAdapter: { setHeader: (res: any, k: string, v: string) => (res.headers[k] = v) } } as any;
  const session = { userId: 1, sessionId: 's' };
  const sessions = {
    authenticate: async (request: any, token: string) => {
      if (token === 'down') throw new SessionStoreUnavailableError(new Error('db'));
      if (token !== 'good') throw new SessionRefusedError('malformed');
      request.sessionContext = session;
      return { session };
    },
  } as any;
  /** The registry's per-message check: a client `{ verdict }` passes, is refused, or meets a store failure. */
  const connections = {
    verify: async (client: any) => {
      if (client?.verdict === 'live') return session;
      if (client?.verdict === 'down') throw new SessionStoreUnavailableError(new Error('db'));
      throw new SessionRefusedError('revoked');
    },
  } as any;
  const guard = (policy?: 'authenticate' | 'skip' | 'deny') => new SessionGuard(reflector, sessions, config(policy), adapterHost, connections);
  const context = (type: string, args: unknown[]) =>
    ({
      getType: () => type,
      getHandler: () => undefined,
      getClass: () => undefined,
      getArgByIndex: (i: number) => args[i],
      switchToHttp: () => ({ getRequest: () => args[0], getResponse: () => args[1] }),
      switchToWs: () => ({ getClient: () => args[0], getData: () => args[1] }),
      switchToRpc: () => ({ getData: () => args[0], getContext: () => args[1] }),
    }) as any;

  // The default changed with issue 12: 'rpc' and 'ws' contexts used to pass unchecked ('skip').
  it.each([
    ['rpc', 'skip', true],
    ['ws', 'skip', true],
    ['rpc', 'deny', false],
    ['ws', 'deny', false],
    ['kafka-like custom transport', undefined, false],
  ] as const)('%s contexts with policy %s → %s', async (type, policy, expected) => {
    await expect(guard(policy).canActivate(context(type, [{}, {}]))).resolves.toBe(expected);
  });

  it('refuses by default an RPC message without a token, with an RpcException that says only Unauthorized', async () => {
    for (const data of [{}, 'text', null, { accessToken: 42 }, { accessToken: '' }, { authorization: 'Basic x' }, { accessToken: 'forged' }]) {
      const refusal = guard().canActivate(context('rpc', [data, {}]));
      await expect(refusal).rejects.toBeInstanceOf(RpcException);
      await expect(refusal).rejects.toMatchObject({ message: 'Unauthorized' });
    }
  });

  it('authenticates an RPC message from data.accessToken or data.authorization and keeps its session for @CurrentSession()', async () => {
    for (const data of [{ accessToken: 'good' }, { authorization: 'Bearer good' }]) {
      const rpcContext = {};
      const ctx = context('rpc', [data, rpcContext]);
      await expect(guard().canActivate(ctx)).resolves.toBe(true);
      expect(getSessionContext(ctx)).toBe(session);
      expect((rpcContext as any).sessionContext).toBe(session);
    }
  });

  it('answers an RPC message Service Unavailable when the store cannot answer (never a pass)', async () => {
    await expect(guard().canActivate(context('rpc', [{ accessToken: 'down' }, {}]))).rejects.toMatchObject({ message: 'Service Unavailable' });
  });

  it('reads the RPC token through the overridable getRpcToken hook', async () => {
    class HeaderGuard extends SessionGuard {
      protected override getRpcToken(ctx: any) {
        return ctx.switchToRpc().getContext().headers?.token;
      }
    }
    const headerGuard = new HeaderGuard(reflector, sessions, config(), adapterHost, connections);
    await expect(headerGuard.canActivate(context('rpc', [{}, { headers: { token: 'good' } }]))).resolves.toBe(true);
    await expect(headerGuard.canActivate(context('rpc', [{ accessToken: 'good' }, { headers: {} }]))).rejects.toBeInstanceOf(RpcException);
  });

  it('checks a WebSocket message against its connection: refused with WsException Unauthorized, or Service Unavailable', async () => {
    await expect(guard().canActivate(context('ws', [{ verdict: 'live' }, {}]))).resolves.toBe(true);
    for (const client of [{}, undefined, { verdict: 'ended' }]) {
      const refusal = guard().canActivate(context('ws', [client, {}]));
      await expect(refusal).rejects.toBeInstanceOf(WsException);
      await expect(refusal).rejects.toMatchObject({ message: 'Unauthorized' });
    }
    await expect(guard().canActivate(context('ws', [{ verdict: 'down' }, {}]))).rejects.toMatchObject({ message: 'Service Unavailable' });
  });

  it('reads the session of a WebSocket client for @CurrentSession()', () => {
    expect(getSessionContext(context('ws', [{ sessionContext: session }, {}]))).toBe(session);
    expect(getSessionContext(context('ws', [undefined, {}]))).toBeUndefined();
  });

  it('checks GraphQL requests from the GraphQL context', async () => {
    const req = { headers: { authorization: 'Bearer good' } };
    await expect(guard().canActivate(context('graphql', [{}, {}, { req, res: { headers: {} } }]))).resolves.toBe(true);
    expect((req as any).sessionContext).toBe(session);
    const res = { headers: {} as Record<string, string> };
    await expect(guard().canActivate(context('graphql', [{}, {}, { req: { headers: { authorization: 'Bearer bad' } }, res }]))).rejects.toMatchObject({ status: 401 });
    expect(res.headers['WWW-Authenticate']).toBe('Bearer error="invalid_token"');
    await expect(guard().canActivate(context('graphql', [{}, {}, {}]))).rejects.toMatchObject({ status: 401 });
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
    new SessionGuard(new Reflector(), { authenticate: async () => { throw new SessionRefusedError('malformed'); } } as any, { publicRouteKey, tokenExtractor: () => undefined } as any, {} as any, {} as any);
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
