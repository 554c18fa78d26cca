import { ConflictException, Inject, Injectable, Logger, NotFoundException, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { SAMPLE_CONFIG, type SampleConfig } from '../config.js';
import { isUniqueViolation } from '../common/database-errors.js';
import { PasswordHasher } from './password-hasher.js';
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

  /** Creates a user; 409 when the email is taken (also when two registrations race). */
  async create(email: string, password: string, role: UserRole = 'user'): Promise<User> {
    if (await this.findByEmail(email)) throw new ConflictException('Email already registered');
    const passwordHash = await this.hasher.hash(password);
    try {
      return await this.users.save(this.users.create({ email, passwordHash, role }));
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictException('Email already registered');
      throw error;
    }
  }

  /** The user when `password` is theirs; null otherwise (same time either way). */
  async verifyCredentials(email: string, password: string): Promise<User | null> {
    const user = await this.findByEmail(email);
    if (!user) {
      await this.hasher.burn(password);
      return null;
    }
    return (await this.hasher.verify(password, user.passwordHash)) ? user : null;
  }

  verifyPassword(user: User, password: string): Promise<boolean> {
    return this.hasher.verify(password, user.passwordHash);
  }

  /**
   * Saves a new password hash through the repository: the library's TypeORM hook
   * regenerates the user's session token, so every access token issued before is refused.
   */
  async setPassword(user: User, password: string): Promise<User> {
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

  /**
   * Seeds the admin from ADMIN_EMAIL / ADMIN_PASSWORD. An existing account with that email is
   * made admin but keeps its password: the environment never silently resets a password.
   */
  async onApplicationBootstrap(): Promise<void> {
    const admin = this.config.admin;
    if (!admin) return;
    const existing = await this.findByEmail(admin.email);
    if (!existing) {
      try {
        await this.create(admin.email, admin.password, 'admin');
        this.logger.log(`seeded admin ${admin.email}`);
      } catch (error) {
        if (!(error instanceof ConflictException)) throw error; // another instance seeded it
      }
    } else if (existing.role !== 'admin') {
      await this.users.update({ id: existing.id }, { role: 'admin' });
      this.logger.log(`made ${admin.email} an admin`);
    }
  }
}
