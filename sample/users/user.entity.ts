import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { RevokesSessions, SessionTokenColumn } from '../../lib/index.js';

export type UserRole = 'user' | 'admin';

@Entity('users')
export class User {
  @PrimaryGeneratedColumn()
  id: number;

  /** Lower-cased at the edge; a change ends the user's other sessions. */
  @Column({ type: 'varchar', length: 254, unique: true })
  @RevokesSessions()
  email: string;

  /** argon2id hash (bcrypt from earlier versions until the next login); any change, by any write path, ends the user's other sessions. */
  @Column({ type: 'varchar', length: 100 })
  @RevokesSessions()
  passwordHash: string;

  @Column({ type: 'varchar', length: 16, default: 'user' })
  role: UserRole;

  /** Per-user session token managed by the library (select: false, never leaves the database). */
  @SessionTokenColumn()
  sessionToken: string;

  @CreateDateColumn()
  createdAt: Date;
}
