/**
 * Stand-ins for the application code that the docs' partial snippets take for granted
 * (`<!-- snippet: partial -->`, see CONTRIBUTING.md): a user entity, the app's own services and
 * DTOs, and the values a route handler has at hand. scripts/check-doc-snippets.mjs imports from
 * here every name a partial snippet uses but neither declares nor imports, after the package's
 * own exports and before the Nest, TypeORM and RxJS ones.
 *
 * Keep these as plain as the docs' prose: `users.verifyPassword` is "your password check".
 */
import { RevokesSessions, SessionTokenColumn, type SessionContext, type SessionEvent, type SessionService } from 'nestjs-session-revocation';
import { Column, Entity, PrimaryGeneratedColumn, type DataSource } from 'typeorm';
import type { Request, Response } from 'express';

export type { Request, Response };

/** The app's user entity, as in the quick start. */
@Entity('users')
export class User {
  @PrimaryGeneratedColumn() id: number;
  @Column({ unique: true }) @RevokesSessions() email: string;
  @Column() @RevokesSessions() passwordHash: string;
  @SessionTokenColumn() sessionToken: string;
}

/** Request bodies. */
export class LoginDto {
  email: string;
  password: string;
}
export class RefreshDto {
  refreshToken: string;
}
export class ChangePasswordDto {
  currentPassword: string;
  newPassword: string;
}

/** The app's own user service: its password check and its repository. */
export declare class UsersService {
  /** Loads the user by email (with `passwordHash`) and checks the password; throws 401 otherwise. */
  verifyPassword(email: string, password: string): Promise<User>;
  save(user: User): Promise<User>;
}

/** The authentication an app had before adopting the library. */
export declare class LegacyAuth {
  verifyAccessToken(token: string | null | undefined): Promise<object | undefined>;
  /** Checks a legacy refresh token and marks it used. */
  consumeRefreshToken(token: string): Promise<{ user: User } | undefined>;
}

/** A password hash function (bcrypt, argon2...). */
export declare function hash(password: string): Promise<string>;
/** An audit log. */
export declare const audit: { write(event: SessionEvent): void };

// What a handler has at hand.
export declare const sessions: SessionService;
export declare const users: UsersService;
export declare const dataSource: DataSource;
export declare const req: Request;
export declare const res: Response;
export declare const body: RefreshDto;
export declare const user: User;
export declare const userId: number;
/** The request's session (`@CurrentSession()`); `current` is the same, in the device-list examples. */
export declare const session: SessionContext;
export declare const current: SessionContext;
export declare const deviceId: string;
export declare const email: string;
export declare const password: string;
export declare const newPassword: string;
export declare const secret: string;
