import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import bcrypt from 'bcryptjs';
import { createHash, randomBytes } from 'node:crypto';
import { SAMPLE_CONFIG, type SampleConfig } from '../config.js';

/**
 * bcrypt with a SHA-256 pre-hash: bcrypt only reads the first 72 bytes, and a 128-character
 * password may be up to 512 bytes of UTF-8. The base64 digest is 44 ASCII bytes without NULs.
 */
@Injectable()
export class PasswordHasher implements OnModuleInit {
  private dummyHash: string;

  constructor(@Inject(SAMPLE_CONFIG) private readonly config: SampleConfig) {}

  /** A hash of a random password at the configured cost, compared against for unknown emails. */
  async onModuleInit(): Promise<void> {
    this.dummyHash = await this.hash(randomBytes(32).toString('hex'));
  }

  hash(password: string): Promise<string> {
    return bcrypt.hash(prehash(password), this.config.bcryptRounds);
  }

  async verify(password: string, hash: string | null | undefined): Promise<boolean> {
    if (typeof hash !== 'string' || hash.length === 0) return this.burn(password);
    try {
      return await bcrypt.compare(prehash(password), hash);
    } catch {
      return false;
    }
  }

  /** Spends the time of one comparison and fails: unknown emails answer as slowly as wrong passwords. */
  async burn(password: string): Promise<false> {
    await bcrypt.compare(prehash(password), this.dummyHash);
    return false;
  }
}

function prehash(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('base64');
}
