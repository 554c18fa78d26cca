import { SetMetadata } from '@nestjs/common';
import { SKIP_SESSION_CHECK } from '../session-revocation.constants.js';

/**
 * Opts a handler or a whole controller out of the global session guard (login,
 * registration, refresh, health checks). `@SkipSessionCheck(false)` on a handler turns
 * the check back on inside a skipped controller.
 */
export const SkipSessionCheck = (skip = true) => SetMetadata(SKIP_SESSION_CHECK, skip);
