import { ForbiddenException, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { getSessionContext } from '../../lib/index.js';
import type { UserRole } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { ROLES_KEY } from './roles.decorator.js';

/**
 * Runs after the library's global guard (which authenticated the request) and checks the
 * caller's role in the database, not in the token: a demoted admin loses access at once.
 */
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly users: UsersService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const roles = this.reflector.getAllAndOverride<UserRole[] | undefined>(ROLES_KEY, [context.getHandler(), context.getClass()]);
    if (!roles || roles.length === 0) return true;
    const session = getSessionContext(context);
    if (!session) throw new UnauthorizedException();
    const user = await this.users.findById(Number(session.userId));
    if (!user || !roles.includes(user.role)) throw new ForbiddenException();
    return true;
  }
}
