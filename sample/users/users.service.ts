import { BadRequestException, ConflictException, Inject, Injectable, Logger, NotFoundException, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { SAMPLE_CONFIG, type SampleConfig } from '../config.js';
import { isUniqueViolation } from '../common/database-errors.js';
import { PasswordHasher } from './password-hasher.js';
import { PasswordPolicy } from './password-policy.js';
import { User, type UserRole } from './user.entity.js';

/** What the API shows of a user. */
export interface PublicUser {
  id: number;
  email: string;
}

export const toPublicUser = (user: User): PublicUser => ({ id: user.id, email: user.email });

@Injectable()
export class UsersService implements OnApplicationBootstrap {
  private readonly logger = new Logger(UsersService.name);

  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly hasher: PasswordHasher,
    private readonly policy: PasswordPolicy,
    @Inject(SAMPLE_CONFIG) private readonly config: SampleConfig,
  ) {}

  findById(id: number): Promise<User | null> {
    return this.users.findOneBy({ id });
  }

  async findByIdOrFail(id: number): Promise<User> {
    const user = await this.findById(id);
    if (!user) throw new NotFoundException('User not found');
    return user;
  }

  findByEmail(email: string): Promise<User | null> {
    return this.users.findOneBy({ email });
  }

  /**
   * Creates a user; 400 when the password fails the {@link PasswordPolicy}, 409 when the email
   * is taken (also when two registrations race).
   */
  async create(email: string, password: string, role: UserRole = 'user'): Promise<User> {
    await this.policy.check(password, email);
    if (await this.findByEmail(email)) throw new ConflictException('Email already registered');
    const passwordHash = await this.hasher.hash(password);
    try {
      return await this.users.save(this.users.create({ email, passwordHash, role }));
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictException('Email already registered');
      throw error;
    }
  }

  /**
   * The user when `password` is theirs; null otherwise (an unknown email costs one comparison
   * too). A hash of an older kind (bcrypt, lower argon2 costs) is upgraded on the way: the
   * entity returned is the saved one. Saving the hash rotates the user's session token (it is
   * a `@RevokesSessions()` column), so the upgrade also ends the user's other sessions, once.
   *
   * The per-account failed-login back-off (library) belongs here: checked before the
   * comparison, a failure recorded after it.
   */
  async verifyCredentials(email: string, password: string): Promise<User | null> {
    const user = await this.findByEmail(email);
    if (!user) return this.hasher.burn(password).then(() => null);
    if (!(await this.hasher.verify(password, user.passwordHash))) return null;
    if (!this.hasher.needsRehash(user.passwordHash)) return user;
    user.passwordHash = await this.hasher.hash(password);
    return this.users.save(user);
  }

  verifyPassword(user: User, password: string): Promise<boolean> {
    return this.hasher.verify(password, user.passwordHash);
  }

  /**
   * Saves a new password (400 when it fails the {@link PasswordPolicy}) through the repository: the library's TypeORM hook
   * regenerates the user's session token, so every access token issued before is refused.
   */
  async setPassword(user: User, password: string): Promise<User> {
    await this.policy.check(password, user.email, 'newPassword');
    user.passwordHash = await this.hasher.hash(password);
    return this.users.save(user);
  }

  /** Saves a new email (a `@RevokesSessions()` column too); 409 when another user has it. */
  async setEmail(user: User, email: string): Promise<User> {
    if (email === user.email) return user;
    const owner = await this.findByEmail(email);
    if (owner && owner.id !== user.id) throw new ConflictException('Email already registered');
    user.email = email;
    try {
      return await this.users.save(user);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictException('Email already registered');
      throw error;
    }
  }

  /** Deletes an account (its sessions are ended first, by the caller). */
  async delete(id: number): Promise<void> {
    await this.users.delete({ id });
  }

  /**
   * Seeds the admin from ADMIN_EMAIL / ADMIN_PASSWORD. The environment never takes over an
   * account it did not create: when that email belongs to an account that is not an admin, or
   * whose password is not ADMIN_PASSWORD, the app refuses to start (the message names neither
   * the email nor the password). ADMIN_PASSWORD must pass the password policy.
   */
  async onApplicationBootstrap(): Promise<void> {
    const admin = this.config.admin;
    if (!admin) return;
    let existing = await this.findByEmail(admin.email);
    if (!existing) {
      try {
        await this.create(admin.email, admin.password, 'admin');
        this.logger.log(`seeded admin ${admin.email}`);
        return;
      } catch (error) {
        if (error instanceof BadRequestException) throw new Error(`ADMIN_PASSWORD is refused by the password policy: ${policyMessage(error)}`);
        if (!(error instanceof ConflictException)) throw error;
        existing = await this.findByEmail(admin.email); // another instance seeded it meanwhile
      }
    }
    if (existing?.role !== 'admin') {
      throw new Error('ADMIN_EMAIL belongs to an existing account that is not an admin: refusing to start (the sample never promotes an account it did not create); choose another ADMIN_EMAIL');
    }
    if (!(await this.hasher.verify(admin.password, existing.passwordHash))) {
      throw new Error("ADMIN_PASSWORD does not match the existing admin account's password: refusing to start; set ADMIN_PASSWORD to that password, or unset ADMIN_EMAIL and ADMIN_PASSWORD");
    }
  }
}

/** The policy's reason (`password is too easy to guess …`), without the password itself. */
function policyMessage(error: BadRequestException): string {
  const message = (error.getResponse() as { message?: unknown }).message;
  return Array.isArray(message) ? message.join('; ') : String(message);
}
