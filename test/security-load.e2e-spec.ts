import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import type { IssuedTokens, SessionRevocationModuleOptions } from '../lib/index.js';
import { RevocationNotifier } from '../lib/bus/revocation-notifier.js';
import { testDatabases, type TestDatabase } from './support/databases.js';
import { captureLogs, keepAliveClient, listen, percentile, SecretRegistry, sleep, type LogCapture } from './support/security.js';
import { createTestApp, TestUser, type TestApp } from './support/test-app.js';

/**
 * Reliability under load (OWASP ASVS 5.0 V7.4 session termination; DESIGN invariants 3 and 7):
 *
 * 1. Several users hammer GET /me at >= 200 requests/s for SECURITY_LOAD_SECONDS (default 30 s
 *    under CI, 10 s otherwise; rate SECURITY_LOAD_RPS, default 300) while sessions are revoked
 *    mid-run in every way the library offers. Every request records its token and when it was
 *    sent; every token records when its revocation returned. On one instance the staleness
 *    bound is 0 ms: a 2xx for a request sent after its token's revocation returned is a violation.
 * 2. The database fails mid-run (SQLite: the driver's connection is closed, then reopened;
 *    PostgreSQL: its backends are terminated and new connections refused): no protected request
 *    passes (503/401 only) in strict mode; with the cache on, passes are bounded by cache.ttl
 *    (or, with the LISTEN/NOTIFY bus, by the bus noticing it is down); after recovery requests
 *    succeed again without restarting the app.
 */

const CI = !!process.env.CI;
const SECONDS = Number(process.env.SECURITY_LOAD_SECONDS ?? (CI ? 30 : 10));
const RPS = Number(process.env.SECURITY_LOAD_RPS ?? 300);
const MIN_RPS = 200;
/** Latency bounds under load, generous because the suite shares two cores with the other specs. */
const P99_BOUND_MS = 1000;
const MAX_BOUND_MS = 5000;
const postgresUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? (CI ? 'postgres://postgres@127.0.0.1:5432/test' : undefined);

const LOAD_TIMEOUT = SECONDS * 1000 * 2 + 60_000;

let logs: LogCapture;
const secrets = new SecretRegistry();
const errorBodies = new Set<string>();
const figures: Record<string, unknown> = {};
beforeAll(() => {
  logs = captureLogs();
});
afterAll(() => {
  logs?.stop();
  process.stderr.write(`\nsecurity-load figures: ${JSON.stringify(figures)}\n`);
});

/** One token in the pool, with the times its revocation began and returned (performance.now()). */
interface Entry {
  userId: number;
  tokens: IssuedTokens;
  revocationStartedAt?: number;
  revokedAt?: number;
  how?: string;
}

interface Sample {
  entry: Entry;
  sentAt: number;
  doneAt: number;
  status: number;
}

/**
 * Sends GET /me at `rps` (at most `maxInFlight` at once) for `durationMs`, each with the token
 * `pick()` returns; `onTick` runs every 5 ms pacing step. Returns every request's record.
 */
/** Requests that got no answer (socket errors), by error code: reported, and bounded where they are counted. */
const transportErrors = new Map<string, number>();

async function drive(
  client: ReturnType<typeof keepAliveClient>,
  opts: { durationMs: number; rps: number; pick: () => Entry; maxInFlight?: number; onTick?: (elapsed: number) => void },
): Promise<Sample[]> {
  const samples: Sample[] = [];
  const inflight = new Set<Promise<void>>();
  const start = performance.now();
  let launched = 0;
  const fire = async () => {
    const entry = opts.pick();
    const sentAt = performance.now();
    let status: number;
    try {
      const res = await client.request('GET', '/me', { Authorization: `Bearer ${entry.tokens.accessToken}` });
      status = res.status;
      if (status >= 400) errorBodies.add(res.body);
    } catch (error) {
      status = 0; // transport error: no answer at all (counted and bounded below)
      const code = String((error as { code?: unknown }).code ?? (error as Error).message);
      transportErrors.set(code, (transportErrors.get(code) ?? 0) + 1);
    }
    samples.push({ entry, sentAt, doneAt: performance.now(), status });
  };
  for (;;) {
    const elapsed = performance.now() - start;
    if (elapsed >= opts.durationMs) break;
    opts.onTick?.(elapsed);
    const due = Math.floor((elapsed / 1000) * opts.rps);
    while (launched < due && inflight.size < (opts.maxInFlight ?? 64)) {
      launched++;
      const p: Promise<void> = fire().finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await sleep(5);
  }
  await Promise.all(inflight);
  return samples;
}

const summary = (samples: Sample[], seconds: number) => {
  const latencies = samples.map((s) => s.doneAt - s.sentAt);
  const statuses: Record<number, number> = {};
  for (const s of samples) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
  return {
    requests: samples.length,
    rps: Math.round(samples.length / seconds),
    statuses,
    p50: Math.round(percentile(latencies, 50)),
    p99: Math.round(percentile(latencies, 99)),
    max: Math.round(Math.max(0, ...latencies)),
  };
};

// ---------------------------------------------------------------------------------------------
// 1. Revocations under load
// ---------------------------------------------------------------------------------------------

const databases = testDatabases();
/** Under CI PostgreSQL gets the full duration and SQLite at most 10 s; otherwise SQLite gets it. */
// The full run on PostgreSQL (the multi-instance database) when it is there, else on the last one; 10 s on the others.
const longRun = databases.some(([name]) => name === 'postgres') ? 'postgres' : databases[databases.length - 1][0];
const loadRuns = databases.map(([name, db]) => [name, db, name === longRun ? SECONDS : Math.min(SECONDS, 10)] as const);

describe.each(loadRuns)('revocations under load (%s)', (dbName, database, seconds) => {
  let t: TestApp;
  let client: ReturnType<typeof keepAliveClient>;

  beforeAll(async () => {
    t = await createTestApp(database());
    logs.reattach();
    client = keepAliveClient(await listen(t.app), 64);
  });
  afterAll(async () => {
    client?.close();
    await t?.close();
  });

  it(`${seconds} s at ${RPS} requests/s from 12 users while sessions are revoked: no request sent after its token's revocation is served`, async () => {
    const repo = t.dataSource.getRepository(TestUser);
    const users = await repo.save(Array.from({ length: 12 }, (_, i) => ({ email: `load-${dbName}-${i}-${randomBytes(3).toString('hex')}@example.com`, passwordHash: 'h' })));
    const live: Entry[] = [];
    const revoked: Entry[] = [];
    const login = async (userId: number) => {
      const tokens = await t.sessions.issue(userId);
      secrets.addTokens('load', tokens);
      const entry: Entry = { userId, tokens };
      live.push(entry);
      return entry;
    };
    for (const u of users) for (let i = 0; i < 3; i++) await login(u.id);

    /** Marks entries revoked: `act` is the revocation; the time it returned is the token's revocation time. */
    const revoke = async (how: string, entries: Entry[], act: () => Promise<unknown>) => {
      const startedAt = performance.now();
      for (const e of entries) e.revocationStartedAt ??= startedAt;
      await act();
      const at = performance.now();
      for (const e of entries) {
        e.revokedAt = at;
        e.how = how;
        const i = live.indexOf(e);
        if (i >= 0) live.splice(i, 1);
        revoked.push(e);
      }
    };
    const ofUser = (userId: number) => live.filter((e) => e.userId === userId);
    const randomLive = () => live[Math.floor(Math.random() * live.length)];
    const revocations: Record<string, number> = {};

    const actions: Array<[string, () => Promise<void>]> = [
      ['revokeSession', async () => {
        const e = randomLive();
        await revoke('revokeSession', [e], () => t.sessions.revokeSession(e.userId, e.tokens.sessionId));
      }],
      ['invalidateSessions', async () => {
        const { userId } = randomLive();
        await revoke('invalidateSessions', ofUser(userId), () => t.sessions.invalidateSessions(userId));
      }],
      ['invalidateSessions (except one)', async () => {
        const keep = randomLive();
        await revoke('invalidateSessions-except', ofUser(keep.userId).filter((e) => e !== keep), () =>
          t.sessions.invalidateSessions(keep.userId, { except: keep.tokens.sessionId }),
        );
      }],
      ['password change (repository.update)', async () => {
        const { userId } = randomLive();
        await revoke('password-change', ofUser(userId), () => repo.update(userId, { passwordHash: `h-${randomBytes(4).toString('hex')}` }));
      }],
      ['blockUser', async () => {
        const { userId } = randomLive();
        await revoke('blockUser', ofUser(userId), () => t.sessions.blockUser(userId));
        await t.sessions.unblockUser(userId);
      }],
      ['logout (refresh token)', async () => {
        const e = randomLive();
        await revoke('logout', [e], () => t.sessions.logout({ refreshToken: e.tokens.refreshToken }));
      }],
      ['refresh-token reuse', async () => {
        const e = randomLive();
        const next = await t.sessions.refresh(e.tokens.refreshToken);
        secrets.addTokens('load refreshed', next);
        const successor: Entry = { userId: e.userId, tokens: next };
        live.push(successor);
        await sleep(20); // both the old and the new access token are in use meanwhile
        await revoke('refresh-reuse', [e, successor], () => t.sessions.refresh(e.tokens.refreshToken).catch(() => undefined));
      }],
    ];

    let stop = false;
    const revoker = (async () => {
      await sleep(500);
      while (!stop) {
        const [name, act] = actions[Math.floor(Math.random() * actions.length)];
        await act();
        revocations[name] = (revocations[name] ?? 0) + 1;
        // Top the pool up: every user keeps at least two live sessions.
        for (const u of users) while (ofUser(u.id).length < 2) await login(u.id);
        await sleep(150);
      }
    })();

    const samples = await drive(client, {
      durationMs: seconds * 1000,
      rps: RPS,
      // Half the requests use a revoked token, preferring the most recently revoked ones.
      pick: () => (revoked.length > 0 && Math.random() < 0.5 ? revoked[revoked.length - 1 - Math.floor(Math.random() * Math.min(40, revoked.length))] : randomLive()),
    });
    stop = true;
    await revoker;

    const violations = samples.filter((s) => s.status >= 200 && s.status < 300 && s.entry.revokedAt !== undefined && s.sentAt > s.entry.revokedAt);
    // Requests that got an answer (a socket error is none: those are bounded below).
    const answered = samples.filter((s) => s.status !== 0);
    const afterRevocation = answered.filter((s) => s.entry.revokedAt !== undefined && s.sentAt > s.entry.revokedAt);
    // A live token (its revocation had not begun when the answer came) must be served.
    const wrongfulRefusals = answered.filter((s) => s.status !== 200 && (s.entry.revocationStartedAt === undefined || s.doneAt < s.entry.revocationStartedAt));
    const unanswered = samples.length - answered.length;
    const stats = summary(samples, seconds);
    figures[`load ${dbName}`] = {
      ...stats,
      seconds,
      revocations,
      requestsWithRevokedTokens: afterRevocation.length,
      violations: violations.length,
      wrongfulRefusals: wrongfulRefusals.length,
      unanswered,
      transportErrors: Object.fromEntries(transportErrors),
    };

    expect(violations.map((v) => ({ how: v.entry.how, lateByMs: Math.round(v.sentAt - v.entry.revokedAt!) }))).toEqual([]);
    expect(afterRevocation.length).toBeGreaterThan(0); // requests did follow revocations (how many depends on the machine)
    expect(afterRevocation.filter((s) => s.status !== 401).map((s) => ({ status: s.status, how: s.entry.how }))).toEqual([]);
    expect(wrongfulRefusals.map((s) => s.status)).toEqual([]);
    expect(unanswered).toBeLessThanOrEqual(Math.ceil(samples.length / 1000)); // the odd client-side socket error, never a pattern
    // Revocations ran (which kinds within the time depends on the machine's speed: reported).
    expect(Object.values(revocations).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    console.log(`revocation kinds run (${dbName}): ${Object.keys(revocations).sort().join(', ')}`);
    // Throughput and latency are reported, not asserted: timing goals belong to `npm run bench`.
    console.log(`load (${dbName}, ${seconds} s): ${stats.rps} req/s (aim ${MIN_RPS}), p99 ${stats.p99} ms (aim < ${P99_BOUND_MS}), max ${stats.max} ms (aim < ${MAX_BOUND_MS})`);
    expect(Object.keys(stats.statuses).filter((s) => Number(s) >= 500 || Number(s) === 0)).toEqual([]);
  }, LOAD_TIMEOUT);
});

// ---------------------------------------------------------------------------------------------
// 2. The database fails mid-run
// ---------------------------------------------------------------------------------------------

interface Outage {
  /** Makes the store fail; resolves when it does. */
  fail(): Promise<void>;
  /** Brings it back. */
  recover(): Promise<void>;
  cleanup(): Promise<void>;
}

/** An SQLite file whose driver connection the test closes and reopens. */
function sqliteFile(): { db: TestDatabase; outage: (t: TestApp) => Outage } {
  const dir = mkdtempSync(join(tmpdir(), 'security-load-'));
  const database = join(dir, 'db.sqlite');
  return {
    db: {
      name: 'sqlite',
      options: async (entities) => ({ type: 'better-sqlite3', database, entities, synchronize: true }),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    },
    outage: (t) => {
      const driver = t.dataSource.driver as any;
      return {
        async fail() {
          driver.databaseConnection.close(); // every statement now throws "The database connection is not open"
        },
        async recover() {
          // TypeORM's better-sqlite3 driver never reconnects by itself: reopen, as a restarted connection would.
          driver.databaseConnection = await driver.createDatabaseConnection();
          driver.queryRunner?.stmtCache?.clear();
        },
        async cleanup() {},
      };
    },
  };
}

/** A separate PostgreSQL database whose backends the test terminates and whose connections it refuses. */
async function postgresDatabase(url: string): Promise<{ db: TestDatabase; outage: (t: TestApp) => Outage }> {
  const name = `sec_down_${randomBytes(5).toString('hex')}`;
  const admin = new DataSource({ type: 'postgres', url });
  await admin.initialize();
  await admin.query(`CREATE DATABASE "${name}"`);
  const target = new URL(url);
  target.pathname = `/${name}`;
  return {
    db: {
      name: 'postgres',
      options: async (entities) => ({ type: 'postgres', url: target.toString(), entities, synchronize: true, extra: { max: 10 } }),
      cleanup: async () => {
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await admin.destroy();
      },
    },
    outage: () => ({
      async fail() {
        await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
      },
      async recover() {
        await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`);
      },
      async cleanup() {},
    }),
  };
}

type OutageCase = [string, () => Promise<{ db: TestDatabase; outage: (t: TestApp) => Outage }>, Partial<SessionRevocationModuleOptions>, 'strict' | 'ttl' | 'bus'];
const outageCases: OutageCase[] = [
  ['SQLite, strict mode (cache: false)', async () => sqliteFile(), { cache: false }, 'strict'],
  ["SQLite, cache on (ttl '1s')", async () => sqliteFile(), { cache: { ttl: '1s' } }, 'ttl'],
];
if (postgresUrl) {
  outageCases.push(
    ['PostgreSQL, strict mode (cache: false)', () => postgresDatabase(postgresUrl), { cache: false }, 'strict'],
    ['PostgreSQL, cache with the LISTEN/NOTIFY bus', () => postgresDatabase(postgresUrl), { postgresNotify: { channel: `sec_${randomBytes(4).toString('hex')}` } }, 'bus'],
  );
}

describe.each(outageCases)('database failure under load: %s', (name, setup, options, mode) => {
  it('no protected request passes while it is down (503/401 only), and requests succeed again after recovery without a restart', async () => {
    const { db, outage: makeOutage } = await setup();
    const t = await createTestApp(db, { options });
    logs.reattach();
    const client = keepAliveClient(await listen(t.app), 64);
    const outage = makeOutage(t);
    const notifier = t.app.get(RevocationNotifier, { strict: false });
    try {
      const users = await t.dataSource
        .getRepository(TestUser)
        .save(Array.from({ length: 6 }, (_, i) => ({ email: `outage-${i}-${randomBytes(3).toString('hex')}@example.com`, passwordHash: 'h' })));
      const entries: Entry[] = [];
      for (const u of users) for (let i = 0; i < 2; i++) {
        const tokens = await t.sessions.issue(u.id);
        secrets.addTokens('outage', tokens);
        entries.push({ userId: u.id, tokens });
      }
      if (mode === 'bus') {
        for (let i = 0; i < 200 && notifier.cache.bypassed; i++) await sleep(25);
        expect(notifier.cache.bypassed).toBe(false);
      }
      // One revoked token, revoked before the outage: it must stay refused through everything.
      const revokedEntry = entries.pop()!;
      await t.sessions.revokeSession(revokedEntry.userId, revokedEntry.tokens.sessionId);
      revokedEntry.revokedAt = performance.now();

      const HEALTHY = 2000;
      const DOWN = 3000;
      const RECOVERED = 3000;
      let downAt = Infinity;
      let upAt = Infinity;
      let busDownAt = Infinity;
      let phase: 'healthy' | 'failing' | 'down' | 'recovering' | 'up' = 'healthy';
      const transitions: Array<Promise<void>> = [];
      const samples = await drive(client, {
        durationMs: HEALTHY + DOWN + RECOVERED,
        rps: 200,
        pick: () => (Math.random() < 0.1 ? revokedEntry : entries[Math.floor(Math.random() * entries.length)]),
        onTick: (elapsed) => {
          if (mode === 'bus' && busDownAt === Infinity && notifier.cache.bypassed && phase !== 'healthy') busDownAt = performance.now();
          if (phase === 'healthy' && elapsed >= HEALTHY) {
            phase = 'failing';
            transitions.push(
              outage.fail().then(() => {
                downAt = performance.now();
                phase = 'down';
              }),
            );
          } else if (phase === 'down' && elapsed >= HEALTHY + DOWN) {
            phase = 'recovering';
            transitions.push(
              outage.recover().then(() => {
                upAt = performance.now();
                phase = 'up';
              }),
            );
          }
        },
      });
      await Promise.all(transitions);
      expect(downAt).toBeLessThan(upAt);

      const during = samples.filter((s) => s.sentAt >= downAt && s.doneAt <= upAt);
      const passedDuring = during.filter((s) => s.status >= 200 && s.status < 300);
      const cachedWindowEnd = mode === 'ttl' ? downAt + 1000 + 100 : mode === 'bus' ? busDownAt : downAt;
      const passedAfterBound = passedDuring.filter((s) => s.sentAt > cachedWindowEnd);
      const after = samples.filter((s) => s.sentAt >= upAt + 500 && s.entry !== revokedEntry);
      const afterOk = after.filter((s) => s.status === 200);
      const stats = summary(samples, (HEALTHY + DOWN + RECOVERED) / 1000);
      figures[`outage ${name}`] = {
        ...stats,
        duringOutage: during.length,
        passedDuringOutage: passedDuring.length,
        passedAfterBound: passedAfterBound.length,
        busNoticedAfterMs: mode === 'bus' ? Math.round(busDownAt - downAt) : undefined,
        okAfterRecovery: `${afterOk.length}/${after.length}`,
      };

      // Never a 500 (or a dropped connection); only 200, 401 and 503.
      expect(Object.keys(stats.statuses).map(Number).filter((s) => ![200, 401, 503].includes(s))).toEqual([]);
      expect(during.length).toBeGreaterThan(0);
      console.log(`outage (${name}): max ${stats.max} ms (aim < ${MAX_BOUND_MS})`);
      expect(during.every((s) => s.status === 503 || s.status === 401 || (s.status === 200 && mode !== 'strict'))).toBe(true);
      if (mode === 'strict') expect(passedDuring.length).toBe(0);
      // With the cache, a pass is only ever served from an entry cached before the outage: never after the bound.
      expect(passedAfterBound.map((s) => Math.round(s.sentAt - downAt))).toEqual([]);
      // The token revoked before the outage never passes.
      expect(samples.filter((s) => s.entry === revokedEntry && s.status === 200)).toEqual([]);
      // Recovery without a restart.
      expect(after.length).toBeGreaterThan(100);
      expect(afterOk.length / after.length).toBeGreaterThanOrEqual(0.95);
      for (const e of entries) expect((await client.request('GET', '/me', { Authorization: `Bearer ${e.tokens.accessToken}` })).status).toBe(200);
      // And it still revokes after recovery.
      await t.sessions.invalidateSessions(entries[0].userId);
      expect((await client.request('GET', '/me', { Authorization: `Bearer ${entries[0].tokens.accessToken}` })).status).toBe(401);
      // The outage was logged.
      expect(logs.logger.lines.some((l) => l.includes('session store unavailable'))).toBe(true);
    } finally {
      client.close();
      await t.close(); // cleans up db (drops the PostgreSQL database)
      await makeOutage(t).cleanup();
    }
  }, 60_000);
});

it('no token leaked into a log line (including the outage errors) or an error body', () => {
  expect(secrets.size).toBeGreaterThan(50);
  expect(secrets.findIn([...logs.all(), ...errorBodies])).toEqual([]);
});
