import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { ActivityRecord } from '../../storage/session-store.interface.js';
import { epochMs } from './epoch-ms.transformer.js';

/** One entry of a user's security activity log (written when the module's `audit` option is on). */
@Entity('auth_session_activity')
@Index(['userId', 'at'])
export class AuthSessionActivity implements ActivityRecord {
  /** Insertion order (ties of `at`). */
  @PrimaryGeneratedColumn()
  id: number;

  /** The user's primary key, as text. */
  @Column({ type: 'varchar', length: 64 })
  userId: string;

  /** The event type. */
  @Column({ type: 'varchar', length: 32 })
  type: string;

  /** When it happened (ms since epoch). */
  @Index()
  @Column({ type: 'bigint', transformer: epochMs })
  at: number;

  /** The session concerned, when one is. */
  @Column({ type: 'varchar', length: 36, nullable: true })
  sessionId: string | null;

  /** Why, e.g. `password-change`. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  reason: string | null;

  /** Client IP, when known. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;

  /** Client user agent, when known. */
  @Column({ type: 'varchar', length: 512, nullable: true })
  userAgent: string | null;
}
