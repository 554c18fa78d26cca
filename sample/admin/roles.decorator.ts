import { SetMetadata } from '@nestjs/common';
import type { UserRole } from '../users/user.entity.js';

export const ROLES_KEY = 'sample:roles';

/** Roles allowed on a handler or controller (checked by {@link RolesGuard}). */
export const Roles = (...roles: UserRole[]) => SetMetadata(ROLES_KEY, roles);
