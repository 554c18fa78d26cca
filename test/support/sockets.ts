import type { INestApplication } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import jwt from 'jsonwebtoken';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import type { DataSourceOptions } from 'typeorm';
import { WebSocket } from 'ws';
import { CurrentSession, type SessionContext, type SessionRevocationModuleOptions } from '../../lib/index.js';
import { SessionConnectionRegistry } from '../../lib/core/session-connection-registry.js';
import { SessionIoAdapter } from '../../lib/socket.io/index.js';
import { SessionWsAdapter } from '../../lib/ws/index.js';
import { startInstance, type Instance } from './scaling.js';
import { TEST_SECRET } from './test-app.js';

/** The socket.io gateway of the WebSocket specs: namespace `/live`, `whoami` answers with the socket's session. */
@WebSocketGateway({ namespace: '/live' })
export class LiveGateway {
  @SubscribeMessage('whoami')
  whoami(@CurrentSession() session: SessionContext | undefined) {
    return session ? { userId: session.userId, sessionId: session.sessionId } : { userId: null };
  }

  @SubscribeMessage('echo')
  echo(@MessageBody() body: unknown) {
    return body;
  }
}

/** The same gateway on the `ws` platform (no namespaces: path `/ws`). */
@WebSocketGateway({ path: '/ws' })
export class WsLiveGateway {
  @SubscribeMessage('whoami')
  whoami(@CurrentSession() session: SessionContext | undefined) {
    return { event: 'whoami', data: session ? { userId: session.userId, sessionId: session.sessionId } : { userId: null } };
  }
}

/** Which WebSocket setup an instance runs: the library's adapters, or socket.io without it (nothing authenticates handshakes). */
export type SocketPlatform = 'socket.io' | 'ws' | 'plain-socket.io';

/** An instance listening on 127.0.0.1 (port 0) with a gateway. */
export interface SocketInstance extends Instance {
  url: string;
  registry: SessionConnectionRegistry;
}

/** Starts an instance of the scaling test app with a gateway on `platform`, listening. */
export async function startSocketInstance(
  dbOptions: DataSourceOptions,
  platform: SocketPlatform,
  options: Partial<SessionRevocationModuleOptions> = {},
): Promise<SocketInstance> {
  const adapter = (app: INestApplication) =>
    platform === 'socket.io' ? new SessionIoAdapter(app) : platform === 'ws' ? new SessionWsAdapter(app) : new IoAdapter(app);
  const instance = await startInstance(dbOptions, options, {
    providers: [platform === 'ws' ? WsLiveGateway : LiveGateway],
    beforeInit: (app) => app.useWebSocketAdapter(adapter(app)),
  });
  await instance.app.listen(0, '127.0.0.1');
  return { ...instance, url: await instance.app.getUrl(), registry: instance.app.get(SessionConnectionRegistry) };
}

/** What a socket was told when its session ended, and how it was closed. */
export interface Ending {
  event: 'session-ended' | 'reconnect';
  reason: string;
}

/** A socket.io client of `/live` that records how it ends. */
export interface LiveClient {
  socket: ClientSocket;
  /** Resolves with the first `session-ended` / `reconnect` message. */
  ended: Promise<Ending>;
  /** Resolves with the disconnect reason. */
  disconnected: Promise<string>;
  whoami(): Promise<unknown>;
}

/** Connects to `/live` (websocket transport, no automatic reconnection); rejects with the `connect_error`. */
export function connectLive(url: string, options: { token?: unknown; headers?: Record<string, string> } = {}): Promise<LiveClient> {
  const socket = io(`${url}/live`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(options.token !== undefined ? { auth: { token: options.token } } : {}),
    ...(options.headers ? { extraHeaders: options.headers } : {}),
  });
  const ended = new Promise<Ending>((resolve) => {
    socket.once('session-ended', (data: { reason: string }) => resolve({ event: 'session-ended', reason: data.reason }));
    socket.once('reconnect', (data: { reason: string }) => resolve({ event: 'reconnect', reason: data.reason }));
  });
  const disconnected = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
  return new Promise((resolve, reject) => {
    socket.once('connect', () =>
      resolve({ socket, ended, disconnected, whoami: () => socket.timeout(2000).emitWithAck('whoami') }),
    );
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** The `connect_error` of a handshake that must be refused (throws if it connects). */
export async function refusedLive(url: string, options: Parameters<typeof connectLive>[1]): Promise<Error & { data?: unknown }> {
  try {
    const client = await connectLive(url, options);
    client.socket.close();
  } catch (error) {
    return error as Error;
  }
  throw new Error('the handshake was accepted');
}

/** A `ws` client of `/ws`: its messages, and how it closed. */
export interface WsClient {
  socket: WebSocket;
  messages: unknown[];
  closed: Promise<{ code: number; reason: string }>;
  /** Sends `{ event, data }` and resolves with the next message. */
  request(event: string, data?: unknown): Promise<any>;
}

/** Connects to `/ws`; rejects with the HTTP status of a refused upgrade. */
export function connectWs(url: string, headers: Record<string, string> = {}): Promise<WsClient> {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, { headers });
  const messages: unknown[] = [];
  const waiters: Array<(message: unknown) => void> = [];
  socket.on('message', (raw) => {
    const message = JSON.parse(raw.toString());
    messages.push(message);
    waiters.shift()?.(message);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return new Promise((resolve, reject) => {
    socket.once('open', () =>
      resolve({
        socket,
        messages,
        closed,
        request: (event, data) =>
          new Promise((answer) => {
            waiters.push(answer);
            socket.send(JSON.stringify({ event, data }));
          }),
      }),
    );
    socket.once('unexpected-response', (_request, response) => {
      socket.terminate();
      reject(Object.assign(new Error(`upgrade refused: ${response.statusCode}`), { status: response.statusCode, statusMessage: response.statusMessage }));
    });
    socket.once('error', reject);
  });
}

/** A token of the test apps' key and claims, but expired a minute ago. */
export function expiredCopy(token: string): string {
  const { header, payload } = jwt.decode(token, { complete: true }) as { header: jwt.JwtHeader; payload: jwt.JwtPayload };
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign({ ...payload, iat: now - 3600, exp: now - 60 }, TEST_SECRET, { header });
}

/** Resolves with `value`, or with `'pending'` when `promise` has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}
