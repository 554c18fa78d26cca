/**
 * Part 5 of `npm run bench`: live sockets. Two instances (child processes) on one PostgreSQL
 * schema with a Redis bus, each serving the socket.io namespace `/live` behind
 * `SessionIoAdapter`; this process holds the socket.io clients.
 *
 *  - the revoking call (revokeSession, timed inside the server) with no socket connected, then
 *    with SOCKETS sockets connected to that instance: the registry must not make it slower;
 *  - revocation-to-disconnect: from sending the revoking call to the client's `session-ended`,
 *    for a socket on the revoking instance (among SOCKETS others) and for one held by the
 *    other instance (over Redis);
 *  - the server's heap per connected socket (after a full GC; socket.io, engine.io, ws and the
 *    library's registry entry together);
 *  - the registry alone (bench/registry-cost.ts): heap per entry and the time its revocation
 *    listener takes with 10,000 and 100,000 connections registered.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import { percentile, round, type DbSpec, type ServerConfig } from './common.js';

interface ChildLike {
  call<T = any>(cmd: string, args?: unknown): Promise<T>;
  stop(): Promise<void>;
}

/** What run.ts lends this part. */
export interface SocketsDeps {
  startServer(config: ServerConfig, execArgv?: string[]): Promise<{ child: ChildLike; port: number }>;
  freshDatabase(kind: 'postgres'): Promise<{ spec: DbSpec; drop(): Promise<void> }>;
  waitForBus(...children: ChildLike[]): Promise<void>;
  runOnce<T>(script: string, arg: unknown, execArgv?: string[]): Promise<T>;
  redisUrl: string;
  log(message: string): void;
}

/** The registry alone (bench/registry-cost.ts): heap per entry, time of its revocation listener. */
export interface RegistryCost {
  connections: number;
  bytesPerConnection: number;
  listenerMicros: Record<'user' | 'session', { p50: number; p99: number }>;
}

export interface SocketsResult {
  /** Sockets connected to the revoking instance, and to the other one. */
  socketsInstance1: number;
  socketsInstance2: number;
  revocations: number;
  /** revokeSession inside the server (ms), with no socket connected and with socketsInstance1 connected (the revoked one among them). */
  revokeCallNoSocketsP50Ms: number;
  revokeCallNoSocketsP99Ms: number;
  revokeCallWithSocketsP50Ms: number;
  revokeCallWithSocketsP99Ms: number;
  /** The same with the revoked session's socket on the other instance (nothing to re-check here). */
  revokeCallSocketElsewhereP50Ms: number;
  revokeCallSocketElsewhereP99Ms: number;
  /** From sending the revoking call to the client's `session-ended` (ms). */
  sameInstanceP50Ms: number;
  sameInstanceP99Ms: number;
  crossInstanceP50Ms: number;
  crossInstanceP99Ms: number;
  /** Revocations whose `session-ended` did not arrive within 5 s. */
  timeouts: number;
  /** Server heap growth per connected socket, after a full GC (bytes). */
  heapBytesPerSocket: number;
  rssBytesPerSocket: number;
  connectSeconds: number;
  registry: RegistryCost[];
}

type Seeded = Array<{ userId: number; sessionId: string; token: string }>;

function connect(port: number, token: string): Promise<Socket> {
  const socket = io(`http://127.0.0.1:${port}/live`, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token } });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

async function connectAll(port: number, seeded: Seeded): Promise<Map<string, Socket>> {
  const sockets = new Map<string, Socket>();
  for (let start = 0; start < seeded.length; start += 250) {
    const batch = seeded.slice(start, start + 250);
    const connected = await Promise.all(batch.map((s) => connect(port, s.token)));
    batch.forEach((s, i) => sockets.set(s.sessionId, connected[i]));
  }
  return sockets;
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
const p = (values: number[], q: number) => round(percentile(sorted(values), q));

/** Revokes each target's session on `revoker` and waits for its socket's `session-ended`. */
async function revokeAndWait(revoker: ChildLike, targets: Seeded, sockets: Map<string, Socket>) {
  const delays: number[] = [];
  const calls: number[] = [];
  let timeouts = 0;
  for (const target of targets) {
    const socket = sockets.get(target.sessionId)!;
    let timer: NodeJS.Timeout | undefined;
    const ended = new Promise<boolean>((resolve) => {
      socket.once('session-ended', () => resolve(true));
      timer = setTimeout(() => resolve(false), 5000);
    });
    const sent = performance.now();
    calls.push(await revoker.call<number>('revokeSessionTimed', { userId: target.userId, sessionId: target.sessionId }));
    if (await ended) delays.push(performance.now() - sent);
    else timeouts++;
    clearTimeout(timer);
  }
  return { delays, calls, timeouts };
}

export async function socketsBench(deps: SocketsDeps, sockets = 10_000, remoteSockets = 1_000, revocations = 100): Promise<SocketsResult> {
  const database = await deps.freshDatabase('postgres');
  const bus = { kind: 'redis' as const, url: deps.redisUrl, channel: `bench_${randomBytes(4).toString('hex')}` };
  const one = await deps.startServer({ guard: 'cached-bus', db: database.spec, synchronize: true, bus, sockets: true }, ['--expose-gc']);
  const two = await deps.startServer({ guard: 'cached-bus', db: database.spec, synchronize: false, bus, sockets: true }, ['--expose-gc']);
  const clients: Socket[] = [];
  try {
    await deps.waitForBus(one.child, two.child);
    deps.log(`sockets: seeding ${sockets + remoteSockets + revocations} users`);
    const baselineTargets: Seeded = await one.child.call('seed', { count: revocations, prefix: 'sock0' });
    const local: Seeded = await one.child.call('seed', { count: sockets, prefix: 'sock1' });
    const remote: Seeded = await one.child.call('seed', { count: remoteSockets, prefix: 'sock2' });

    const baseline: number[] = [];
    for (const target of baselineTargets) baseline.push(await one.child.call<number>('revokeSessionTimed', target));

    const before = await one.child.call('sockets');
    deps.log(`sockets: connecting ${sockets} sockets to instance 1, ${remoteSockets} to instance 2`);
    const connectStarted = performance.now();
    const localSockets = await connectAll(one.port, local);
    const connectSeconds = round((performance.now() - connectStarted) / 1000, 1);
    const remoteClients = await connectAll(two.port, remote);
    clients.push(...localSockets.values(), ...remoteClients.values());
    const after = await one.child.call('sockets');
    if (after.registered !== sockets) throw new Error(`instance 1 registered ${after.registered} sockets, expected ${sockets}`);

    deps.log(`sockets: ${revocations} revocations on the same instance, ${revocations} across instances`);
    const same = await revokeAndWait(one.child, local.slice(0, revocations), localSockets);
    const cross = await revokeAndWait(one.child, remote.slice(0, revocations), remoteClients);
    return {
      socketsInstance1: sockets,
      socketsInstance2: remoteSockets,
      revocations,
      revokeCallNoSocketsP50Ms: p(baseline, 50),
      revokeCallNoSocketsP99Ms: p(baseline, 99),
      revokeCallWithSocketsP50Ms: p(same.calls, 50),
      revokeCallWithSocketsP99Ms: p(same.calls, 99),
      revokeCallSocketElsewhereP50Ms: p(cross.calls, 50),
      revokeCallSocketElsewhereP99Ms: p(cross.calls, 99),
      sameInstanceP50Ms: p(same.delays, 50),
      sameInstanceP99Ms: p(same.delays, 99),
      crossInstanceP50Ms: p(cross.delays, 50),
      crossInstanceP99Ms: p(cross.delays, 99),
      timeouts: same.timeouts + cross.timeouts,
      heapBytesPerSocket: Math.round((after.heapUsed - before.heapUsed) / sockets),
      rssBytesPerSocket: Math.round((after.rss - before.rss) / sockets),
      connectSeconds,
      registry: await deps.runOnce<RegistryCost[]>('registry-cost.js', { sizes: [10_000, 100_000] }, ['--expose-gc']),
    };
  } finally {
    for (const client of clients) client.close();
    await one.child.stop();
    await two.child.stop();
    await database.drop();
  }
}
