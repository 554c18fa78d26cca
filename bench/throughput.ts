/**
 * Part 1 of bench/run.ts: `GET /me` throughput of every configuration at N distinct users (one
 * session each, tokens round robin), side by side: all servers of one N run at once and are
 * measured in interleaved rounds, the median round reported.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { round, type BusSpec, type DbSpec, type GuardKind } from './common.js';
import { cannon, channelName, freshDatabase, getStatus, log, REDIS_URL, startServer, waitForBus, type Child, type Cursor, type DbKind } from './harness.js';

/** One configuration under test. */
export interface Config {
  db: DbKind;
  guard: GuardKind;
}

export const LABELS: Record<GuardKind, string> = {
  none: 'no guard',
  passport: 'passport-jwt, string secret (as its docs show)',
  'passport-keyobject': 'B: passport-jwt, KeyObject secret',
  strict: 'this library, strict (`cache: false`)',
  cached: 'this library, cached (defaults)',
  'cached-bus': 'this library, cached + Redis bus',
  'session-strategy': "this library's SessionJwtStrategy behind AuthGuard('jwt') (cached defaults)",
};

export interface Measurement {
  requestsPerSec: number;
  totalRequests: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** SQL statements the server sent per request during the measured run. */
  sqlPerRequest: number;
  /** Every distinct statement of the measured run, with its count. */
  statements: Record<string, number>;
  non2xx: number;
  errors: number;
  /** 1-minute load average of the machine when the run started. */
  loadAverage: number;
  /** CPU time of the PostgreSQL server processes per request (µs), on a PostgreSQL row. */
  postgresCpuMicrosPerRequest?: number;
}

export interface ThroughputRow extends Measurement, Config {
  users: number;
  label: string;
  rounds: Measurement[];
  /** requests/s over B (passport-jwt, KeyObject secret) of the same N and run: the median of the rounds' ratios. */
  ratioToB?: number;
  /** Each round's requests/s over B's in the same round. */
  ratiosToB?: number[];
  /** Token entries in the cache and the server's heap after the rounds (GC first). */
  cacheEntries?: number;
  heapMB?: number;
}

export interface ThroughputSettings {
  rounds: number;
  durationS: number;
  warmupS: number;
  redis: boolean;
}

interface Server extends Config {
  child: Child;
  port: number;
  /** Its round robin over the tokens, continued by every run (a warm-up never re-serves what the measured run asks). */
  cursor: Cursor;
}

/** Measures every config at `users`; the databases are fresh and seeded in bulk, once each. */
export async function throughput(users: number, configs: Config[], settings: ThroughputSettings): Promise<{ rows: ThroughputRow[]; seedMs: Record<string, number>; stateSql?: string }> {
  const kinds = [...new Set(configs.map(dbOf))];
  const databases = new Map(await Promise.all(kinds.map(async (kind) => [kind, await freshDatabase(kind)] as const)));
  const servers: Server[] = [];
  const seedMs: Record<string, number> = {};
  // The tokens of each database; valid on every server (one secret, issuer, audience).
  const tokensFor = new Map<DbKind, string[]>();
  let stateSql: string | undefined;
  try {
    for (const kind of kinds) {
      // The first library server of each database creates its tables and seeds it.
      const first = configs.find((c) => c.db === kind && !c.guard.startsWith('passport') && c.guard !== 'none') ?? { db: kind, guard: 'cached' as GuardKind };
      const seeder = await start(first, databases.get(kind)!.spec, true, settings);
      const file = join(os.tmpdir(), `bench-tokens-${process.pid}-${kind}.txt`);
      log(`seeding ${users.toLocaleString('en')} users on ${kind}`);
      seedMs[kind] = (await seeder.child.call('seed', { count: users, prefix: `n${users}`, file })).ms;
      tokensFor.set(kind, readFileSync(file, 'utf8').trim().split('\n'));
      rmSync(file);
      if (kind === 'postgres') stateSql = await seeder.child.call('stateSql');
      if (configs.some((c) => c.db === kind && c.guard === first.guard)) servers.push(seeder);
      else await seeder.child.stop();
    }
    for (const config of configs) {
      if (servers.some((s) => s.db === config.db && s.guard === config.guard)) continue;
      servers.push(await start(config, databases.get(dbOf(config))!.spec, false, settings));
    }
    await waitForBus(...servers.filter((s) => s.guard === 'cached-bus').map((s) => s.child));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (const server of servers) {
      const status = await getStatus(agent, server.port, '/me', tokensOf(server, tokensFor)[0]);
      if (status !== 200) throw new Error(`${server.db}/${server.guard}: GET /me answered ${status}`);
    }
    agent.destroy();
    const rounds = new Map<Server, Measurement[]>(servers.map((s) => [s, []]));
    for (let r = 1; r <= settings.rounds; r++) {
      for (const server of servers) {
        log(`throughput N=${users.toLocaleString('en')} ${server.db} ${server.guard}, round ${r}/${settings.rounds}`);
        rounds.get(server)!.push(await measure(server, tokensOf(server, tokensFor), r === 1 && users <= 1000, settings));
      }
    }
    const rows: ThroughputRow[] = [];
    for (const server of orderLike(configs, servers)) {
      const all = rounds.get(server)!;
      const median = [...all].sort((x, y) => x.requestsPerSec - y.requestsPerSec)[Math.floor(all.length / 2)];
      const row: ThroughputRow = { db: server.db, guard: server.guard, users, label: LABELS[server.guard], ...median, rounds: all };
      if (!server.guard.startsWith('passport') && server.guard !== 'none') {
        const status = await server.child.call('status');
        row.cacheEntries = status.cacheSize;
        row.heapMB = round(status.heapMB, 1);
      }
      rows.push(row);
    }
    // The ratio of each round to B's figure of the same round (measured within a minute of it),
    // then the median of those: drift of the machine over the run cancels out.
    const b = rows.find((r) => r.guard === 'passport-keyobject');
    if (b) {
      for (const row of rows) {
        const ratios = row.rounds.map((m, i) => m.requestsPerSec / b.rounds[i].requestsPerSec).sort((x, y) => x - y);
        row.ratioToB = round(ratios[Math.floor(ratios.length / 2)]);
        row.ratiosToB = row.rounds.map((m, i) => round(m.requestsPerSec / b.rounds[i].requestsPerSec));
      }
    }
    return { rows, seedMs, stateSql };
  } finally {
    for (const server of servers) await server.child.stop();
    for (const database of databases.values()) await database.drop();
  }
}

/** The database a config runs on (the passport and no-guard servers never query theirs). */
const dbOf = (config: Config): DbKind => config.db;

const tokensOf = (server: Server, tokensFor: Map<DbKind, string[]>): string[] => tokensFor.get(dbOf(server))!;

function orderLike(configs: Config[], servers: Server[]): Server[] {
  return configs.map((c) => servers.find((s) => s.db === c.db && s.guard === c.guard)!).filter(Boolean);
}

async function start(config: Config, spec: DbSpec, synchronize: boolean, settings: ThroughputSettings): Promise<Server> {
  const bus: BusSpec | undefined = config.guard === 'cached-bus' && settings.redis ? { kind: 'redis', url: REDIS_URL, channel: channelName() } : undefined;
  const { child, port } = await startServer({ guard: config.guard, db: spec, synchronize, bus });
  return { ...config, child, port, cursor: { next: 0 } };
}

/** Warm-up (a first round at small N: one pass over every user first), then the measured run. */
async function measure(server: Server, tokens: string[], fullPass: boolean, settings: ThroughputSettings): Promise<Measurement> {
  if (fullPass) await cannon(server.port, tokens, { amount: tokens.length }, undefined, server.cursor);
  await cannon(server.port, tokens, { duration: settings.warmupS }, undefined, server.cursor);
  const loadAverage = round(os.loadavg()[0]);
  await server.child.call('resetStatements');
  const dbCpuBefore = postgresCpu();
  const result = await cannon(server.port, tokens, { duration: settings.durationS }, undefined, server.cursor);
  const dbCpuMs = cpuBetween(dbCpuBefore, postgresCpu());
  const statements: { count: number; byText: Record<string, number> } = await server.child.call('statements');
  return {
    requestsPerSec: round(result.requests.average, 0),
    totalRequests: result.requests.total,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    sqlPerRequest: round(statements.count / Math.max(result.requests.total, 1), 3),
    statements: statements.byText,
    non2xx: result.non2xx,
    errors: result.errors,
    loadAverage,
    ...(server.db === 'postgres' && dbCpuBefore.size > 0 ? { postgresCpuMicrosPerRequest: round((dbCpuMs * 1000) / Math.max(result.requests.total, 1), 0) } : {}),
  };
}

/**
 * CPU time (ms) of each PostgreSQL server process on this machine so far, by pid, from /proc
 * (Linux, the server local; empty when it cannot be read). The difference of two readings over
 * the processes present in both is what the database cost during a run, on the cores the app
 * and the load generator share with it (short-lived autovacuum workers are left out).
 */
function postgresCpu(): Map<string, number> {
  const byPid = new Map<string, number>();
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const end = stat.lastIndexOf(')');
        if (!stat.slice(stat.indexOf('(') + 1, end).startsWith('postgres')) continue;
        const fields = stat.slice(end + 2).split(' ');
        byPid.set(pid, ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS); // utime + stime (fields 14 and 15 of the line)
      } catch {
        // the process ended meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return byPid;
}

/** CPU ms the processes of both readings used between them. */
function cpuBetween(before: Map<string, number>, after: Map<string, number>): number {
  let ms = 0;
  for (const [pid, used] of after) if (before.has(pid)) ms += used - before.get(pid)!;
  return ms;
}
/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;
