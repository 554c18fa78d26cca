import { REVOKES_SESSIONS_COLUMNS } from '../session-revocation.constants.js';

/**
 * Marks a column (password hash, email, ...) whose change must end the user's other
 * sessions: any TypeORM write that changes it regenerates the `@SessionTokenColumn()`.
 * Use it together with `@Column()`.
 */
export function RevokesSessions(): PropertyDecorator {
  return (target, propertyKey) => {
    const ctor = target.constructor;
    const inherited: string[] = Reflect.getMetadata(REVOKES_SESSIONS_COLUMNS, ctor) ?? [];
    Reflect.defineMetadata(REVOKES_SESSIONS_COLUMNS, [...new Set([...inherited, String(propertyKey)])], ctor);
  };
}
