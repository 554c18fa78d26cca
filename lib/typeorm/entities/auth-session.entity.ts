import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { SessionRecord } from '../../storage/session-store.interface.js';
import { epochMs } from './epoch-ms.transformer.js';

/** A server-side session: one login on one device, and its refresh-token family. */
@Entity('auth_sessions')
export class AuthSession implements SessionRecord {
  /** Session id, carried as `sid` in access tokens. */
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  /** The user's primary key, as text. */
  @Index()
  @Column({ type: 'varchar', length: 64 })
  userId: string;

  /** Keyed fingerprint of the user's session token when the session was (re)issued. */
  @Column({ name: 'userTokenFingerprint', type: 'varchar', length: 64 })
  sessionTokenFingerprint: string;

  /** User agent at login. */
  @Column({ type: 'varchar', length: 512, nullable: true })
  userAgent: string | null;

  /** IP at login. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;

  /** Login time (ms since epoch). */
  @Column({ type: 'bigint', transformer: epochMs })
  createdAt: number;

  /** Last authenticated request (ms since epoch). */
  @Column({ type: 'bigint', transformer: epochMs })
  lastSeenAt: number;

  /**
   * When the user last proved a credential in this session (login, re-authentication; ms since
   * epoch). 0 in rows from before the column existed: such sessions count as not fresh.
   */
  @Column({ type: 'bigint', default: 0, transformer: epochMs })
  authTime: number;

  /** When the current refresh token expires (sliding, ms since epoch). */
  @Column({ type: 'bigint', transformer: epochMs })
  expiresAt: number;

  /** Absolute end of the session, whatever the refreshes (ms since epoch). */
  @Column({ type: 'bigint', transformer: epochMs })
  absoluteExpiresAt: number;

  /** When the session was ended, if it was (ms since epoch). */
  @Column({ name: 'revokedAt', type: 'bigint', nullable: true, transformer: epochMs })
  endedAt: number | null;

  /** Why it was ended. */
  @Column({ name: 'revokedReason', type: 'varchar', length: 64, nullable: true })
  endReason: string | null;

  /** The app's own access-token claims (JSON), carried into every token of the session. */
  @Column({ type: 'simple-json', nullable: true })
  claims: Record<string, any> | null; // `any`: TypeORM's partial-entity types cannot map `unknown`
}
