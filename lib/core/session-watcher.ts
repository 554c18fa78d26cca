import { Injectable } from '@nestjs/common';
import { Observable } from 'rxjs';
import { RevocationNotifier } from '../bus/revocation-notifier.js';
import { SessionRefusedError } from '../session-revocation.errors.js';
import { AccessTokens } from './access-tokens.js';
import { SessionAuthenticator } from './session-authenticator.js';

/** Emitted by `SessionService.watch` when the watched session has ended. */
export interface SessionEnded {
  /** The session that ended. */
  sessionId: string;
  /** When this instance noticed. */
  at: Date;
}

/**
 * Watches sessions for their end: re-checks a session whenever a revocation that may concern it
 * is applied here (locally or from the bus), and on a poll timer for instances without a bus.
 * @internal
 */
@Injectable()
export class SessionWatcher {
  constructor(
    private readonly authenticator: SessionAuthenticator,
    private readonly tokens: AccessTokens,
    private readonly notifier: RevocationNotifier,
  ) {}

  watch(accessToken: string, options: { pollInterval?: number } = {}): Observable<SessionEnded> {
    return new Observable<SessionEnded>((subscriber) => {
      let checking = false;
      let pending = false;
      const claims = this.tokens.verify(accessToken, true);
      const ended = () => {
        subscriber.next({ sessionId: claims?.sid ?? '', at: new Date() });
        subscriber.complete();
      };
      const check = async () => {
        if (checking) {
          pending = true;
          return;
        }
        checking = true;
        try {
          do {
            pending = false;
            if (!claims) return ended();
            try {
              await this.authenticator.check(claims, { touch: false }); // watching is not use: the idle timeout runs on
            } catch (error) {
              if (error instanceof SessionRefusedError) return ended();
              // the store cannot answer: unknown, keep watching
            }
          } while (pending);
        } finally {
          checking = false;
        }
      };
      const unsubscribe = this.notifier.subscribe((message) => {
        if (!claims) return;
        if (message.t === 'all' || message.id === claims.sid || message.id === claims.sub) void check();
      });
      const timer = setInterval(() => void check(), options.pollInterval ?? 5000);
      timer.unref?.();
      void check();
      return () => {
        unsubscribe();
        clearInterval(timer);
      };
    });
  }
}
