import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from './epoch-ms.transformer.js';

/** The id of the one epoch row. @internal */
export const GLOBAL_EPOCH_ID = 'global';

/** The revocation epoch: every session created at or before `epoch` is over. */
@Entity('auth_revocation_epochs')
export class AuthRevocationEpoch {
  /** Always `'global'` ({@link GLOBAL_EPOCH_ID}). */
  @PrimaryColumn({ type: 'varchar', length: 16 })
  id: string;

  /** Sessions created at or before this time (ms since epoch) are ended. */
  @Column({ name: 'revokedBefore', type: 'bigint', transformer: epochMs })
  epoch: number;
}
