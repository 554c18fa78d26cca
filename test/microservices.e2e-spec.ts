import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { ClientProxyFactory, MessagePattern, Transport, type ClientProxy } from '@nestjs/microservices';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AddressInfo, Server } from 'node:net';
import { lastValueFrom } from 'rxjs';
import { DataSource } from 'typeorm';
import { CurrentSession, SessionRevocationModule, SessionService, type NonHttpContextPolicy, type SessionContext } from '../lib/index.js';
import { ENTITIES } from './support/scaling.js';
import { expiredCopy } from './support/sockets.js';
import { TEST_SECRET, TestUser } from './support/test-app.js';

/**
 * RPC handlers of a real microservice (TCP transport on port 0): by default the global guard
 * authenticates each message from the token it carries (`data.accessToken` or
 * `data.authorization`) and refuses the rest; `'skip'` is the explicit opt-out.
 */

@Controller()
class RpcController {
  @MessagePattern('whoami')
  whoami(@CurrentSession() session: SessionContext | undefined) {
    return session ? { userId: session.userId, sessionId: session.sessionId } : { userId: null };
  }
}

async function startMicroservice(nonHttpContexts?: NonHttpContextPolicy) {
  @Module({
    imports: [
      TypeOrmModule.forRoot({ type: 'better-sqlite3', database: ':memory:', entities: ENTITIES, synchronize: true, logging: false }),
      SessionRevocationModule.forRoot({ userEntity: TestUser, jwt: { secret: TEST_SECRET, issuer: 'test', audience: 'test' }, ...(nonHttpContexts ? { nonHttpContexts } : {}) }),
    ],
    controllers: [RpcController],
  })
  class RpcAppModule {}
  const app: INestMicroservice = await NestFactory.createMicroservice(RpcAppModule, {
    transport: Transport.TCP,
    options: { host: '127.0.0.1', port: 0 },
    logger: false,
  });
  await app.listen();
  const port = (app.unwrap<Server>().address() as AddressInfo).port;
  const client: ClientProxy = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
  await client.connect();
  return {
    sessions: app.get(SessionService),
    newUser: () => app.get(DataSource).getRepository(TestUser).save({ email: `rpc-${Date.now().toString(36)}@example.com`, passwordHash: 'h' }),
    send: (data: unknown) => lastValueFrom(client.send('whoami', data)),
    async close() {
      client.close();
      await app.close();
    },
  };
}

describe('RPC handlers (TCP microservice)', () => {
  it('by default: a message without a valid token is refused with Unauthorized; a live token passes and @CurrentSession() has the session', async () => {
    const rpc = await startMicroservice();
    try {
      const user = await rpc.newUser();
      const { accessToken, sessionId } = await rpc.sessions.issue(user);
      for (const data of [{}, 'plain text', { accessToken: 'garbage' }, { accessToken: expiredCopy(accessToken) }, { authorization: 'Basic abc' }]) {
        await expect(rpc.send(data)).rejects.toMatchObject({ status: 'error', message: 'Unauthorized' });
      }
      await expect(rpc.send({ accessToken })).resolves.toEqual({ userId: user.id, sessionId });
      await expect(rpc.send({ authorization: `Bearer ${accessToken}` })).resolves.toEqual({ userId: user.id, sessionId });
      await rpc.sessions.revokeSession(user.id, sessionId);
      await expect(rpc.send({ accessToken })).rejects.toMatchObject({ status: 'error', message: 'Unauthorized' });
    } finally {
      await rpc.close();
    }
  });

  it("nonHttpContexts: 'skip' lets messages through unchecked; 'deny' refuses them all", async () => {
    const skip = await startMicroservice('skip');
    try {
      await expect(skip.send({})).resolves.toEqual({ userId: null });
    } finally {
      await skip.close();
    }
    const deny = await startMicroservice('deny');
    try {
      await expect(deny.send({})).rejects.toMatchObject({ status: 'error', message: 'Forbidden resource' });
    } finally {
      await deny.close();
    }
  });
});
