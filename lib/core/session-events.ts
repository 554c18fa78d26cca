import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { SessionEvent } from '../interfaces/session-context.interface.js';
import type { ResolvedSessionRevocationOptions } from '../session-revocation-options.js';
import { LOGGER_CONTEXT, SESSION_REVOCATION_CONFIG } from '../session-revocation.constants.js';
import { SessionActivity } from './session-activity.js';

/** A function that receives session events. */
export type SessionEventListener = (event: SessionEvent) => void | Promise<void>;

/**
 * Fans session events out to the log, to the activity log (`audit`), to an optional
 * EventEmitter2-compatible emitter (as `session.<type>`) and to in-process listeners. Listener
 * errors are logged, never thrown.
 * @internal
 */
@Injectable()
export class SessionEvents {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private readonly listeners = new Set<SessionEventListener>();
  private readonly emitter?: ResolvedSessionRevocationOptions['eventEmitter'];

  constructor(
    @Optional() @Inject(SESSION_REVOCATION_CONFIG) config?: Pick<ResolvedSessionRevocationOptions, 'eventEmitter'>,
    @Optional() private readonly activity?: SessionActivity,
  ) {
    this.emitter = config?.eventEmitter;
  }

  on(listener: SessionEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: Omit<SessionEvent, 'at'>): void {
    const full: SessionEvent = { ...event, at: new Date(Date.now()) };
    const line = [
      `session.${full.type}`,
      full.userId !== undefined ? `user=${full.userId}` : undefined,
      full.sessionId ? `session=${full.sessionId}` : undefined,
      full.reason ? `reason=${full.reason}` : undefined,
      full.ip ? `ip=${full.ip}` : undefined,
    ].filter(Boolean).join(' ');
    if (full.type === 'reuse-detected') this.logger.warn(line);
    else this.logger.log(line);
    this.activity?.record(full);
    try {
      this.emitter?.emit(`session.${full.type}`, full);
    } catch (error) {
      this.logger.error(`session event emitter failed: ${(error as Error)?.message}`);
    }
    for (const listener of this.listeners) {
      Promise.resolve()
        .then(() => listener(full))
        .catch((error) => this.logger.error(`session event listener failed: ${(error as Error)?.message}`));
    }
  }
}
