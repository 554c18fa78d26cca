import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from './epoch-ms.transformer.js';

/** Per-user account state kept by the library (blocking). */
@Entity('auth_user_states')
export class AuthUserState {
  /** The user's primary key, as text. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  userId: string;

  /** When the user was blocked; null when not blocked. */
  @Column({ type: 'bigint', nullable: true, transformer: epochMs })
  blockedAt: number | null;
}
