/**
 * `npm run bench:profile -- <guard> [db] [users]`: a CPU profile of one benchmark server under the
 * throughput part's load (GET /me, round robin over `users` tokens), and its 25 functions with
 * the most self time. Writes the .cpuprofile next to the results (open it in Chrome DevTools).
 * Example: `npm run bench:profile -- cached sqlite 1000`.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { GuardKind } from './common.js';
import { cannon, freshDatabase, log, repoRoot, startServer, type DbKind } from './harness.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

async function main(): Promise<void> {
  const [guard = 'cached', db = 'sqlite', users = '1000'] = process.argv.slice(2);
  const database = await freshDatabase(db as DbKind);
  const library = !guard.startsWith('passport') && guard !== 'none';
  const { child, port } = await startServer({ guard: (library ? guard : 'cached') as GuardKind, db: database.spec, synchronize: true });
  const file = join(os.tmpdir(), `bench-profile-tokens-${process.pid}.txt`);
  await child.call('seed', { count: Number(users), prefix: 'p', file });
  const tokens = readFileSync(file, 'utf8').trim().split('\n');
  rmSync(file);
  let server = child;
  let serverPort = port;
  if (!library) {
    await child.stop();
    ({ child: server, port: serverPort } = await startServer({ guard: guard as GuardKind, db: database.spec, synchronize: false }));
  }
  const cursor = { next: 0 };
  await cannon(serverPort, tokens, { amount: tokens.length }, undefined, cursor);
  await cannon(serverPort, tokens, { duration: 2 }, undefined, cursor);
  await server.call('profileStart');
  const out = join(repoRoot, 'bench', `profile-${guard}-${db}-${users}.cpuprofile`);
  const result = await cannon(serverPort, tokens, { duration: 5 }, undefined, cursor);
  await server.call('profileStop', { file: out });
  await server.stop();
  await database.drop();
  log(`${guard} ${db} N=${users}: ${Math.round(result.requests.average)} req/s, p99 ${result.latency.p99} ms; profile ${out}`);

  const profile = JSON.parse(readFileSync(out, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist-all|lib)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'} ${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  const idle = [...byFunction].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
  const busy = total - idle;
  const perRequest = busy / result.requests.total;
  console.log(`busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s; ${perRequest.toFixed(0)} µs of server CPU per request`);
  for (const [key, us] of [...byFunction].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`${((100 * us) / busy).toFixed(1).padStart(5)} %  ${(us / result.requests.total).toFixed(1).padStart(6)} µs/req  ${key}`);
  }
  writeFileSync(out, JSON.stringify(profile));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
