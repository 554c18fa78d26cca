import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { AttemptRecord } from '../../storage/session-store.interface.js';
import { epochMs } from './epoch-ms.transformer.js';

/** Failed sign-in attempts counted under one key (a keyed hash of an account or an IP). */
@Entity('auth_login_attempts')
export class AuthLoginAttempt implements AttemptRecord {
  /** The counting key: a keyed hash, never the raw email or address. */
  @PrimaryColumn({ name: 'attemptKey', type: 'varchar', length: 64 })
  key: string;

  /** Failures in the current series. */
  @Column({ type: 'int', default: 0 })
  failures: number;

  /** First failure of the series (ms since epoch). */
  @Column({ type: 'bigint', transformer: epochMs })
  firstAt: number;

  /** Latest failure (ms since epoch). */
  @Index()
  @Column({ type: 'bigint', transformer: epochMs })
  lastAt: number;
}
