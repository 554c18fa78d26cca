import { Controller, HttpCode, HttpStatus, Param, Post, UseGuards } from '@nestjs/common';
import { SessionService } from '../../lib/index.js';
import { ParseIdPipe } from '../common/parse-id.pipe.js';
import { UsersService } from '../users/users.service.js';
import { Roles } from './roles.decorator.js';
import { RolesGuard } from './roles.guard.js';

/** Account administration: 403 for non-admins, 404 for unknown users, 204 otherwise. */
@Controller('admin/users')
@UseGuards(RolesGuard)
@Roles('admin')
export class AdminController {
  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionService,
  ) {}

  /** Ends every session of the user and refuses their logins and refreshes until unblocked. */
  @Post(':id/block')
  @HttpCode(HttpStatus.NO_CONTENT)
  async block(@Param('id', ParseIdPipe) id: number): Promise<void> {
    await this.users.findByIdOrFail(id);
    await this.sessions.blockUser(id, 'admin-block');
  }

  /** Lets the user log in again; sessions ended by the block stay ended. */
  @Post(':id/unblock')
  @HttpCode(HttpStatus.NO_CONTENT)
  async unblock(@Param('id', ParseIdPipe) id: number): Promise<void> {
    await this.users.findByIdOrFail(id);
    await this.sessions.unblockUser(id);
  }

  /** Ends every session of the user (they can log in again). */
  @Post(':id/revoke-sessions')
  @HttpCode(HttpStatus.NO_CONTENT)
  async revokeSessions(@Param('id', ParseIdPipe) id: number): Promise<void> {
    await this.users.findByIdOrFail(id);
    await this.sessions.invalidateSessions(id, { reason: 'admin-revoke' });
  }
}
