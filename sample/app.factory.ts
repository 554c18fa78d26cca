import { ValidationPipe, type INestApplication, type LogLevel, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SessionIoAdapter } from '../lib/socket.io/index.js';
import { AppModule } from './app.module.js';
import { jsonBodyParser } from './common/json-body.middleware.js';
import type { SampleConfig } from './config.js';
import { csrfProtection, refreshTokenFromCookie } from './web/csrf.middleware.js';
import { securityHeaders } from './web/security-headers.middleware.js';

export interface CreateSampleAppOptions {
  /** Nest logger: `false` to silence (tests), log levels, or a LoggerService. */
  logger?: false | LogLevel[] | LoggerService;
}

/**
 * Builds and initializes the sample app (Express) for `config`, without listening: `main.ts`
 * calls `listen()`, tests drive `getHttpServer()` with supertest.
 */
export async function createSampleApp(config: SampleConfig, options: CreateSampleAppOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    // Nest's own body parser is replaced by one with a size limit and JSON error answers.
    bodyParser: false,
    abortOnError: false,
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  });
  app.disable('x-powered-by');
  app.use(securityHeaders());
  app.use(jsonBodyParser());
  // The account page authenticates by cookie: its unsafe requests must prove their origin.
  app.use(csrfProtection());
  app.use(refreshTokenFromCookie());
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
  // socket.io on the same server and port (namespace /live): handshakes authenticated, sockets
  // disconnected when their session ends.
  app.useWebSocketAdapter(new SessionIoAdapter(app));
  app.enableShutdownHooks();
  try {
    await app.init();
  } catch (error) {
    // A refused start (weak secret, admin seed) must not leave the database connections open.
    await app.close().catch(() => undefined);
    throw error;
  }
  return app;
}
