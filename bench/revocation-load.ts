/**
 * Part 2 of bench/run.ts: revocation under load. Two instances on one PostgreSQL schema with a
 * bus (Redis or LISTEN/NOTIFY), both serving `GET /me` to 1,000 other users under load meanwhile.
 * For each revocation: instance 2 caches the victim's session, a poller hammers instance 2 with
 * the victim's token back to back, instance 1 revokes it. Measured: from the revoking call's
 * return to the last 200 instance 2 answers for that token; the revoking call itself (inside the
 * server, and its parts: the store write and the bus publish).
 */
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readFileSync, rmSync } from 'node:fs';
import { round, type BusSpec } from './common.js';
import { cannon, channelName, freshDatabase, getStatus, log, REDIS_URL, spread, startServer, waitForBus } from './harness.js';

export interface RevocationUnderLoad {
  bus: 'redis' | 'postgresNotify';
  revocations: number;
  /** Requests/s the two instances served to the other users meanwhile. */
  backgroundRequestsPerSec: number;
  /** From the revoking call's return (instance 1) to the last 200 instance 2 answered for that session; 0 when none came after. */
  lastStaleMs: { p50: number; p99: number; max: number };
  /** 200s answered to requests SENT after the call returned (each one a stale check). */
  staleAfterReturn: number;
  /** The revoking call (`revokeSession`) timed inside instance 1, and over IPC. */
  revokeCallMs: { p50: number; p99: number; max: number };
  revokeCallIpcMs: { p50: number; p99: number; max: number };
  /** Its parts: the store's UPDATE and the bus publish. */
  storeWriteMs: { p50: number; p99: number; max: number };
  busPublishMs: { p50: number; p99: number; max: number };
  /** The same calls before the load started (IDLE_REVOCATIONS of them). */
  idle: { revokeCallMs: Spread; storeWriteMs: Spread; busPublishMs: Spread };
  /** Instance 1's event-loop delay under the load (how late a ready callback runs). */
  eventLoopDelayMs: { p99: number; max: number };
  loadAverage: number;
}

type Spread = { p50: number; p99: number; max: number };
/** Revocations made before the load starts: the revoking call's cost with a free event loop. */
const IDLE_REVOCATIONS = 20;

export async function revocationUnderLoad(bus: 'redis' | 'postgresNotify', revocations: number, connections: number): Promise<RevocationUnderLoad> {
  const database = await freshDatabase('postgres');
  const channel = channelName();
  const busSpec: BusSpec = bus === 'redis' ? { kind: 'redis', url: REDIS_URL, channel } : { kind: 'postgres', channel };
  const one = await startServer({ guard: 'cached-bus', db: database.spec, synchronize: true, bus: busSpec });
  const two = await startServer({ guard: 'cached-bus', db: database.spec, synchronize: false, bus: busSpec });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await waitForBus(one.child, two.child);
    const file = join(os.tmpdir(), `bench-revoke-${process.pid}.txt`);
    await one.child.call('seed', { count: 1000, prefix: `load-${bus}`, file });
    const background = readFileSync(file, 'utf8').trim().split('\n');
    rmSync(file);
    const victims: Array<{ userId: number; sessionId: string; token: string }> = [];
    for (let i = 0; i < revocations + IDLE_REVOCATIONS; i++) victims.push(await one.child.call('issue', { userId: i + 1 }));

    // The same call with no load: what it costs when the event loop is free.
    const idleCalls: number[] = [];
    for (const victim of victims.splice(0, IDLE_REVOCATIONS)) idleCalls.push(await one.child.call<number>('revokeSession', { userId: victim.userId, sessionId: victim.sessionId }));
    const idlePhases: { storeWrite: number[]; busPublish: number[] } = await one.child.call('phases');
    await one.child.call('resetLoopDelay');

    let stopLoad = false;
    let served = 0;
    const loadStart = performance.now();
    const load = (async () => {
      while (!stopLoad) {
        const results = await Promise.all([one.port, two.port].map((port) => cannon(port, background, { duration: 2 }, Math.max(1, connections / 2))));
        served += results.reduce((sum, r) => sum + r.requests.total, 0);
      }
    })();
    const loadAverage = round(os.loadavg()[0]);
    const lastStale: number[] = [];
    const calls: number[] = [];
    const ipcCalls: number[] = [];
    let staleAfterReturn = 0;
    await new Promise((r) => setTimeout(r, 1000)); // the load is on
    for (const victim of victims) {
      if ((await getStatus(agent, two.port, '/me', victim.token)) !== 200) throw new Error('not accepted before revocation');
      let returned = Infinity;
      let lastOk = -Infinity;
      let done = false;
      const poll = (async () => {
        const deadline = performance.now() + 5000;
        while (!done && performance.now() < deadline) {
          const sent = performance.now();
          const status = await getStatus(agent, two.port, '/me', victim.token);
          const received = performance.now();
          if (status === 200) {
            lastOk = received;
            if (sent > returned) staleAfterReturn++;
          } else if (status === 401 && received > returned) {
            done = true;
          } else if (status !== 401) throw new Error(`instance 2 answered ${status}`);
        }
      })();
      const called = performance.now();
      calls.push(await one.child.call<number>('revokeSession', { userId: victim.userId, sessionId: victim.sessionId }));
      returned = performance.now();
      ipcCalls.push(returned - called);
      await poll;
      lastStale.push(Math.max(0, lastOk - returned));
    }
    stopLoad = true;
    await load;
    const phases: { storeWrite: number[]; busPublish: number[]; eventLoopDelayP99Ms: number; eventLoopDelayMaxMs: number } = await one.child.call('phases');
    return {
      bus,
      revocations,
      backgroundRequestsPerSec: Math.round(served / ((performance.now() - loadStart) / 1000)),
      lastStaleMs: spread(lastStale),
      staleAfterReturn,
      revokeCallMs: spread(calls),
      revokeCallIpcMs: spread(ipcCalls),
      storeWriteMs: spread(phases.storeWrite.slice(-revocations)),
      busPublishMs: spread(phases.busPublish.slice(-revocations)),
      idle: { revokeCallMs: spread(idleCalls), storeWriteMs: spread(idlePhases.storeWrite), busPublishMs: spread(idlePhases.busPublish) },
      eventLoopDelayMs: { p99: round(phases.eventLoopDelayP99Ms), max: round(phases.eventLoopDelayMaxMs) },
      loadAverage,
    };
  } finally {
    agent.destroy();
    await one.child.stop();
    await two.child.stop();
    await database.drop();
  }
}

/** Log line for a finished run. */
export function describeRevocations(r: RevocationUnderLoad): string {
  return `${r.bus}: last stale 200 p99 ${r.lastStaleMs.p99} ms, revoking call p99 ${r.revokeCallMs.p99} ms`;
}

void log;
