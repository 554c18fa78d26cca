import { Injectable, ServiceUnavailableException, type OnModuleInit } from '@nestjs/common';
import { hash, verify, type Algorithm, type Options } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';
import { createHash, randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import pLimit from 'p-limit';

/**
 * argon2id with OWASP's first recommended setting (Password Storage Cheat Sheet): 19 MiB of
 * memory, 2 passes, 1 lane. `@node-rs/argon2` computes on libuv's thread pool, so a burst of
 * logins no longer stalls the event loop (bcryptjs computed on it). The encoded hash is at
 * most 97 characters: it fits the 100-character column.
 */
export const ARGON2_OPTIONS: Options = {
  // Algorithm.Argon2id: an ambient const enum, which isolatedModules cannot read at run time.
  algorithm: 2 satisfies Algorithm.Argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
};

/**
 * Hashes computed at once: one core fewer than the machine has (at least one), so a flood of
 * logins, wrong passwords included, always leaves a core to the event loop and the database
 * (measured by `npm run bench`: `GET /health` while 50 clients send wrong passwords).
 */
export const HASH_CONCURRENCY = Math.max(1, availableParallelism() - 1);
/** Hashes waiting for their turn; past that a login or registration answers 503 at once. */
export const MAX_WAITING_HASHES = 100;

/** Hashes of earlier versions of the sample: bcryptjs over a SHA-256 pre-hash (`$2a$`/`$2b$`/`$2y$`). */
const LEGACY_BCRYPT = /^\$2[aby]\$/;

/** Hashes and checks passwords; {@link needsRehash} tells which stored hashes to upgrade at the next login. */
@Injectable()
export class PasswordHasher implements OnModuleInit {
  private dummyHash: string;
  /** `$argon2id$v=19$m=…,t=…,p=…$`: what every hash made with {@link ARGON2_OPTIONS} starts with. */
  private currentPrefix: string;

  /** A hash of a random password with the current options, compared against for unknown emails. */
  async onModuleInit(): Promise<void> {
    this.dummyHash = await this.hash(randomBytes(32).toString('hex'));
    // `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`: everything before the salt.
    this.currentPrefix = `${this.dummyHash.split('$').slice(0, 4).join('$')}$`;
  }

  private readonly limit = pLimit(HASH_CONCURRENCY);

  hash(password: string): Promise<string> {
    return this.limited(() => hash(password, ARGON2_OPTIONS));
  }

  /** True when `password` matches `storedHash` (argon2id, or a legacy bcrypt hash); false for anything else. */
  async verify(password: string, storedHash: string | null | undefined): Promise<boolean> {
    if (typeof storedHash !== 'string' || storedHash.length === 0) return this.burn(password);
    try {
      if (LEGACY_BCRYPT.test(storedHash)) return await this.limited(() => bcrypt.compare(legacyPrehash(password), storedHash));
      return await this.limited(() => verify(storedHash, password));
    } catch (error) {
      if (error instanceof ServiceUnavailableException) throw error;
      return false;
    }
  }

  /** True for a hash not made with the current algorithm and options (legacy bcrypt, older argon2 costs). */
  needsRehash(storedHash: string): boolean {
    return !storedHash.startsWith(this.currentPrefix);
  }

  /** Spends the time of one comparison and fails: unknown emails answer as slowly as wrong passwords. */
  async burn(password: string): Promise<false> {
    await this.limited(() => verify(this.dummyHash, password).catch(() => false));
    return false;
  }

  /** Runs one hash computation in turn, {@link HASH_CONCURRENCY} at a time; 503 when too many wait. */
  private limited<T>(compute: () => Promise<T>): Promise<T> {
    if (this.limit.pendingCount >= MAX_WAITING_HASHES) return Promise.reject(new ServiceUnavailableException('Too many sign-ins at once: try again in a moment'));
    return this.limit(compute);
  }
}

/** What earlier versions gave bcrypt (which reads only 72 bytes): the base64 SHA-256 of the password. */
function legacyPrehash(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('base64');
}
