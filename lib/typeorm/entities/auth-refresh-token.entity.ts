import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { RefreshTokenRecord } from '../../storage/session-store.interface.js';
import { epochMs } from './epoch-ms.transformer.js';

/** One refresh token of a session's family, stored only as its SHA-256 hash. */
@Entity('auth_refresh_tokens')
export class AuthRefreshToken implements RefreshTokenRecord {
  /** SHA-256 of the opaque token, hex. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  tokenHash: string;

  /** The session (token family) it belongs to. */
  @Index()
  @Column({ type: 'varchar', length: 36 })
  sessionId: string;

  /**
   * The session's session-token fingerprint when this token was minted. A refresh is refused when
   * the session has been renewed since (password change), so a refresh racing the change
   * cannot hand out a token that outlives it.
   */
  @Column({ name: 'userTokenFingerprint', type: 'varchar', length: 64 })
  sessionTokenFingerprint: string;

  /** Issue time (ms since epoch). */
  @Column({ type: 'bigint', transformer: epochMs })
  createdAt: number;

  /** Expiry (ms since epoch). */
  @Column({ type: 'bigint', transformer: epochMs })
  expiresAt: number;

  /** When it was exchanged; a second presentation after this is reuse. */
  @Column({ type: 'bigint', nullable: true, transformer: epochMs })
  usedAt: number | null;
}
