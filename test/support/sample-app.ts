import type { INestApplication, LoggerService } from '@nestjs/common';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createSampleApp } from '../../sample/app.factory.js';
import type { SampleConfig, SampleDatabaseOptions } from '../../sample/config.js';
import type { TestDatabase } from './databases.js';

export const SAMPLE_JWT_SECRET = 'sample-e2e-secret-that-is-long-enough-0123456789';
export const ADMIN = { email: 'admin@example.com', password: 'seeded-operator-key-1' };

/** Issued tokens as the sample answers them. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
  expiresIn: number;
}

export interface SampleApp {
  app: INestApplication;
  server: any;
  dataSource: DataSource;
  close(): Promise<void>;
}

/**
 * The sample app on a fresh database of `db`, admin seeded, logs off unless a logger is given.
 * The per-IP auth rate limit is off (suites make many requests from 127.0.0.1) unless
 * `authRateLimitPerIp` is given.
 */
export async function startSample(
  db: TestDatabase,
  options: { jwtSecret?: string; admin?: { email: string; password: string }; logger?: LoggerService; authRateLimitPerIp?: number } = {},
): Promise<SampleApp> {
  const config: SampleConfig = {
    port: 0,
    database: await sampleDatabase(db),
    jwtSecret: options.jwtSecret ?? SAMPLE_JWT_SECRET,
    admin: options.admin ?? ADMIN,
    authRateLimitPerIp: options.authRateLimitPerIp ?? 0,
  };
  const app = await createSampleApp(config, { logger: options.logger ?? false });
  return {
    app,
    server: app.getHttpServer(),
    dataSource: app.get(DataSource),
    async close() {
      await app.close();
      await db.cleanup();
    },
  };
}

/** The sample's database settings for a fresh database of `db` (the sample adds its entities itself). */
export async function sampleDatabase(db: TestDatabase): Promise<SampleDatabaseOptions> {
  const { entities: _entities, synchronize: _synchronize, ...database } = (await db.options([])) as any;
  return database as SampleDatabaseOptions;
}

let counter = 0;
/** A unique email per call. */
export const uniqueEmail = (prefix = 'user') => `${prefix}-${Date.now().toString(36)}-${counter++}@example.com`;

/** HTTP helpers over one sample app. */
export function sampleClient(server: any) {
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const client = {
    bearer,
    register: (email: string, password: string) => request(server).post('/auth/register').send({ email, password }),
    login: (email: string, password: string, userAgent = 'jest') =>
      request(server).post('/auth/login').set('User-Agent', userAgent).send({ email, password }),
    async loginOk(email: string, password: string, userAgent = 'jest'): Promise<Tokens> {
      const res = await client.login(email, password, userAgent);
      if (res.status !== 200) throw new Error(`login of ${email} answered ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
    /** Registers a user and logs in once; returns the id, credentials and tokens. */
    async newUser(password = 'correct-horse-1', userAgent = 'jest') {
      const email = uniqueEmail();
      const res = await client.register(email, password);
      if (res.status !== 201) throw new Error(`register answered ${res.status} ${JSON.stringify(res.body)}`);
      const tokens = await client.loginOk(email, password, userAgent);
      return { id: res.body.id as number, email, password, tokens };
    },
    me: (token: string) => request(server).get('/me').set(bearer(token)),
    refresh: (refreshToken: unknown) => request(server).post('/auth/refresh').send({ refreshToken }),
    sessions: (token: string) => request(server).get('/sessions').set(bearer(token)),
  };
  return client;
}
