import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import { SQLITE_SERVER_OPTIONS } from './database/sqlite-server-options.js';

/** TypeORM connection settings of the sample; entities and schema sync are added by the app. */
export type SampleDatabaseOptions = DataSourceOptions extends infer T
  ? T extends DataSourceOptions
    ? Omit<T, 'entities' | 'synchronize' | 'migrations' | 'subscribers'>
    : never
  : never;

/** Everything the sample needs to start; built from the environment by {@link loadConfig}. */
export interface SampleConfig {
  /** HTTP port (`PORT`, default 3000). */
  port: number;
  /** Where users and sessions live (`DATABASE_URL`: `postgres://`, `mysql://` or `mariadb://`; unset: SQLite file `data/sample.sqlite`). */
  database: SampleDatabaseOptions;
  /** Optional Redis revocation bus for several instances (`REDIS_URL`). */
  redisUrl?: string;
  /** HMAC secret of the access tokens, at least 32 bytes (`JWT_SECRET`). */
  jwtSecret: string;
  /** Admin account created at startup when both are set (`ADMIN_EMAIL`, `ADMIN_PASSWORD`). */
  admin?: { email: string; password: string };
  /**
   * Requests a minute one client IP may make to the auth routes, all together
   * (`AUTH_RATE_LIMIT_PER_IP`, default 60; 0 turns the limit off).
   */
  authRateLimitPerIp: number;
  /**
   * Most live sessions per user; a login past it ends the user's oldest session
   * (`MAX_SESSIONS_PER_USER`, default 10).
   */
  maxSessionsPerUser?: number;
}

/** Live sessions one user may have when `MAX_SESSIONS_PER_USER` is not set. */
export const DEFAULT_MAX_SESSIONS_PER_USER = 10;

/** Injection token of the {@link SampleConfig}. */
export const SAMPLE_CONFIG = Symbol('SAMPLE_CONFIG');

const logger = new Logger('SampleConfig');

/**
 * Reads the sample's configuration from the environment. Creates `dataDir` when it is
 * needed (SQLite file, generated JWT secret).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, dataDir = resolve(process.cwd(), 'data')): SampleConfig {
  const ensureDataDir = () => mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const port = integer('PORT', env.PORT, 3000, 0, 65535);
  const authRateLimitPerIp = integer('AUTH_RATE_LIMIT_PER_IP', env.AUTH_RATE_LIMIT_PER_IP, 60, 0, 1_000_000);
  const maxSessionsPerUser = integer('MAX_SESSIONS_PER_USER', env.MAX_SESSIONS_PER_USER, DEFAULT_MAX_SESSIONS_PER_USER, 1, 1000);

  let database: SampleDatabaseOptions;
  const url = env.DATABASE_URL?.trim();
  if (!url) {
    ensureDataDir();
    database = { type: 'better-sqlite3', database: resolve(dataDir, 'sample.sqlite'), ...SQLITE_SERVER_OPTIONS };
  } else if (/^postgres(ql)?:\/\//i.test(url)) {
    database = { type: 'postgres', url };
  } else if (/^(mysql|mariadb):\/\//i.test(url)) {
    // mariadb:// selects TypeORM's mariadb type (right column defaults on a MariaDB server).
    database = { type: /^mariadb/i.test(url) ? 'mariadb' : 'mysql', url, charset: 'utf8mb4' };
  } else {
    throw new Error('DATABASE_URL must be a postgres://, mysql:// or mariadb:// URL (leave it unset for the embedded SQLite file)');
  }

  let jwtSecret = env.JWT_SECRET;
  if (!jwtSecret) {
    ensureDataDir();
    jwtSecret = readOrCreateSecret(resolve(dataDir, 'jwt-secret'));
    logger.warn(`JWT_SECRET is not set: using the generated secret stored in ${resolve(dataDir, 'jwt-secret')} (set JWT_SECRET in production)`);
  }

  const adminEmail = env.ADMIN_EMAIL?.trim();
  const adminPassword = env.ADMIN_PASSWORD;
  const admin = adminEmail && adminPassword ? { email: adminEmail.toLowerCase(), password: adminPassword } : undefined;
  if (admin && (admin.password.length < 8 || admin.password.length > 128)) throw new Error('ADMIN_PASSWORD must be 8 to 128 characters long');
  if (!admin && (adminEmail || adminPassword)) logger.warn('ADMIN_EMAIL and ADMIN_PASSWORD must both be set to seed an admin; none seeded');

  return { port, database, redisUrl: env.REDIS_URL?.trim() || undefined, jwtSecret, admin, authRateLimitPerIp, maxSessionsPerUser };
}

function integer(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  return value;
}

/** The secret in `file`, or a new random 48-byte one written there (owner-only) so restarts keep sessions. */
function readOrCreateSecret(file: string): string {
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length > 0) return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secret = randomBytes(48).toString('base64url');
  try {
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw error;
  }
}
