/**
 * The socket registry's own cost (child of bench/run.ts, run with --expose-gc): heap per
 * registered connection, and the time a revocation spends in the registry's listener (the part
 * the revoking call waits for) with 10,000 and 100,000 connections registered. Fakes stand in
 * for the store and the authenticator, so only the registry is measured.
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import type { RevocationMessage } from '../lib/bus/revocation-bus.js';
import { SessionConnectionRegistry } from '../lib/core/session-connection-registry.js';
import { percentile, round } from './common.js';

const { sizes } = JSON.parse(process.argv[2]) as { sizes: number[] };
const gc = (globalThis as { gc?: () => void }).gc!;

async function measure(size: number) {
  let listener: (message: RevocationMessage) => void = () => undefined;
  const notifier = { busHealthy: true, subscribe: (l: typeof listener) => ((listener = l), () => undefined) };
  const authenticator = { check: async () => undefined };
  const registry = new SessionConnectionRegistry(
    { cacheTtlMs: 60_000, clockToleranceSeconds: 5 } as any,
    {} as any,
    {} as any,
    authenticator as any,
    {} as any,
    notifier as any,
  );
  const clients: object[] = Array.from({ length: size }, () => ({}));
  gc();
  const before = process.memoryUsage().heapUsed;
  const expiresAt = Date.now() / 1000 + 3600;
  clients.forEach((client, i) => {
    const sessionId = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    registry.register(client, { session: { userId: i, sessionId, issuedAt: 0, expiresAt, authTime: 0, claims: {} }, claims: { sub: String(i), sid: sessionId, sfp: 'f', iat: 0, exp: 0, payload: {} }, generation: 0 }, () => undefined);
  });
  gc();
  const bytesPerConnection = Math.round((process.memoryUsage().heapUsed - before) / size);
  const times: Record<string, number[]> = { user: [], session: [] };
  for (let i = 0; i < 2000; i++) {
    const target = (i * 7919) % size;
    const message: RevocationMessage = i % 2 ? { t: 'user', id: String(target) } : { t: 'session', id: `00000000-0000-4000-8000-${String(target).padStart(12, '0')}` };
    const started = performance.now();
    listener(message);
    times[message.t].push((performance.now() - started) * 1000);
    await new Promise((resolve) => setImmediate(resolve)); // let the re-check run
  }
  registry.onApplicationShutdown();
  const stats = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return { p50: round(percentile(sorted, 50), 1), p99: round(percentile(sorted, 99), 1) };
  };
  return { connections: size, bytesPerConnection, listenerMicros: { user: stats(times.user), session: stats(times.session) } };
}

const results = [];
for (const size of sizes) results.push(await measure(size));
if (process.send) process.send({ results });
else console.log(JSON.stringify(results, null, 2));
