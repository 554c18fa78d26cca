import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createSampleApp } from './app.factory.js';
import { loadConfig } from './config.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const app = await createSampleApp(config);
  await app.listen(config.port);
  Logger.log(`listening on ${(await app.getUrl()).replace('[::1]', 'localhost')}`, 'Sample');
}

bootstrap().catch((error: unknown) => {
  Logger.error(error instanceof Error ? error.message : String(error), 'Sample');
  process.exit(1);
});
