import { Controller, Delete, Get, HttpCode, HttpStatus, NotFoundException, Param, ParseUUIDPipe } from '@nestjs/common';
import { CurrentSession, SessionService, type SessionContext, type SessionInfo } from '../../lib/index.js';

/** The caller's device list. */
@Controller('sessions')
export class SessionsController {
  constructor(private readonly sessions: SessionService) {}

  /** Live sessions, newest first; `current` marks the one asking. */
  @Get()
  list(@CurrentSession() session: SessionContext): Promise<SessionInfo[]> {
    return this.sessions.list(session.userId, session.sessionId);
  }

  /** Ends one of the caller's sessions (e.g. a lost phone). 404 when it is not a live session of theirs. */
  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  async revoke(@CurrentSession() session: SessionContext, @Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    if (!(await this.sessions.revokeSession(session.userId, id, 'user-revoked'))) throw new NotFoundException('Session not found');
  }
}
