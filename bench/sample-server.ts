/**
 * Child process of bench/run.ts: the sample app (its own argon2id hashing, rate limits and
 * routes) on 127.0.0.1, port 0, configured by the environment the parent passes.
 */
import 'reflect-metadata';
import { createSampleApp } from '../sample/app.factory.js';
import { loadConfig } from '../sample/config.js';
import { serveIpc } from './common.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env, process.env.BENCH_DATA_DIR);
  const app = await createSampleApp(config, { logger: ['error'] });
  await app.listen(0, '127.0.0.1');
  serveIpc({
    async close() {
      setImmediate(async () => {
        await app.close();
        process.exit(0);
      });
      return true;
    },
  });
  process.send!({ ready: (app.getHttpServer().address() as { port: number }).port });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
