import type { INestApplication, LoggerService } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { User } from '../../sample/users/user.entity.js';
import type { TestDatabase } from './databases.js';
import { startSample } from './sample-app.js';
import { listen } from './security.js';

/**
 * The sample app for the security suite: like test/support/sample-app.ts, but listening on
 * 127.0.0.1 (for a keep-alive client and raw sockets) and logging into a given LoggerService
 * so the suite can scan every log line for secrets.
 */

export const SECURITY_SAMPLE_SECRET = 'security-suite-sample-secret-long-enough-0123456789';
export const SECURITY_ADMIN = { email: 'sec-admin@example.com', password: 'security-operator-key-1' };

export interface SecuritySample {
  app: INestApplication;
  base: string;
  dataSource: DataSource;
  close(): Promise<void>;
}

export async function startSecuritySample(db: TestDatabase, logger: LoggerService): Promise<SecuritySample> {
  const sample = await startSample(db, { jwtSecret: SECURITY_SAMPLE_SECRET, admin: SECURITY_ADMIN, logger });
  return { app: sample.app, base: await listen(sample.app), dataSource: sample.dataSource, close: sample.close };
}

/** Every user's per-user session token and password hash, read from the database (the token column is select: false). */
export async function sampleUserSecrets(dataSource: DataSource): Promise<Array<{ id: number; sessionToken: string; passwordHash: string }>> {
  const rows = await dataSource.getRepository(User).createQueryBuilder('u').addSelect('u.sessionToken').getMany();
  return rows.map((u) => ({ id: u.id, sessionToken: u.sessionToken, passwordHash: u.passwordHash }));
}
