import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { RevocationNotifier } from '../bus/revocation-notifier.js';
import type { RevocationMessage } from '../bus/revocation-bus.js';
import type { SessionContext } from '../interfaces/session-context.interface.js';
import type { ResolvedSessionRevocationOptions } from '../session-revocation-options.js';
import { LOGGER_CONTEXT, SESSION_CONTEXT_KEY, SESSION_REVOCATION_CONFIG } from '../session-revocation.constants.js';
import { SessionRefusedError, type SessionRefusalReason } from '../session-revocation.errors.js';
import { SessionStore } from '../storage/session-store.interface.js';
import { AccessTokens, type AccessClaims } from './access-tokens.js';
import { SessionAuthenticator } from './session-authenticator.js';
import { SessionLifecycle } from './session-lifecycle.js';
import { ConcurrencyLimit } from '../utils/concurrency-limit.js';
import { settleSessionEnd, type SettledEnd } from './session-settle.js';

/**
 * How a live connection is ended: `session-ended` (the session is over: sign in again) or
 * `reconnect` (only the token stopped working, the session goes on: reconnect with the current
 * credentials).
 */
export type ConnectionEndEvent = 'session-ended' | 'reconnect';

/** What a transport does to end one of its connections: tell the client `{ reason }`, then close. */
export type EndConnection = (event: ConnectionEndEvent, reason: string) => void;

/** A handshake's checked credentials, to register once the transport accepted the connection. @internal */
export interface HandshakeSession {
  readonly session: SessionContext;
  readonly claims: AccessClaims;
  /** The registry's revocation count when the check started: revocations since are re-checked at registration. */
  readonly generation: number;
}

interface Connection extends HandshakeSession {
  readonly end: EndConnection;
  /** idle; checking; again (a revocation arrived during the check); ending (being ended); closed. */
  state: 'idle' | 'checking' | 'again' | 'ending' | 'closed';
  /** The last check could not reach the store: the next tick tries again. */
  retry: boolean;
}

/** Most store checks the registry runs at once (revoking everyone must not take the whole pool). */
const CONCURRENCY = 8;
/** How long a superseded token's session is looked up before `reconnect` (as the SSE stream's default). */
const SETTLE_TIME_MS = 1000;

/**
 * The live connections (WebSockets) of this instance and the sessions they were opened with. It
 * holds ONE revocation subscription for the whole instance and indexes connections by session id
 * and user id, so a revocation re-checks only the connections it may concern, whatever their
 * number; a connection whose session ended is told `session-ended { reason }` (or `reconnect` for
 * the device whose own password change renewed its session, and when the access token expires)
 * and closed by its transport. One timer per instance re-checks expiries, and every connection
 * while revocations cannot arrive from everywhere (no bus, or the bus is down). Used by the
 * socket.io and ws adapters and by the guard's per-message check.
 * @internal
 */
@Injectable()
export class SessionConnectionRegistry implements OnApplicationShutdown {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private readonly byClient = new Map<object, Connection>();
  private readonly bySession = new Map<string, Set<Connection>>();
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly unsubscribe: () => void;
  private readonly pollIntervalMs: number;
  private generation = 0;
  private ticker?: NodeJS.Timeout;
  private lastTickUnhealthy = false;
  private readonly limit = new ConcurrencyLimit(CONCURRENCY);

  constructor(
    @Inject(SESSION_REVOCATION_CONFIG) private readonly config: ResolvedSessionRevocationOptions,
    @Inject(SessionStore) private readonly store: SessionStore,
    private readonly tokens: AccessTokens,
    private readonly authenticator: SessionAuthenticator,
    private readonly lifecycle: SessionLifecycle,
    private readonly notifier: RevocationNotifier,
  ) {
    this.unsubscribe = notifier.subscribe((message) => this.onRevocation(message));
    // The HTTP bound without a bus is the cache TTL; never slower than 5 s.
    this.pollIntervalMs = Math.min(config.cacheTtlMs || 5000, 5000);
  }

  /** Connections registered now. */
  get size(): number {
    return this.byClient.size;
  }

  /**
   * Checks a handshake's access token like a request's. Throws `SessionRefusedError` (any token
   * to refuse) or `SessionStoreUnavailableError`.
   */
  async authenticate(accessToken: unknown): Promise<HandshakeSession> {
    const generation = this.generation;
    const claims = this.tokens.verify(accessToken);
    if (!claims) throw new SessionRefusedError('malformed');
    const session = await this.authenticator.check(claims);
    return { session, claims, generation };
  }

  /**
   * Registers an accepted connection (`client`: the transport's socket object, which gets the
   * `SessionContext` as `client.sessionContext` for `@CurrentSession()`). Returns the removal, to
   * call when the connection closes.
   */
  register(client: object, handshake: HandshakeSession, end: EndConnection): () => void {
    const connection: Connection = { ...handshake, end, state: 'idle', retry: false };
    (client as Record<string, unknown>)[SESSION_CONTEXT_KEY] = handshake.session;
    this.byClient.set(client, connection);
    add(this.bySession, handshake.claims.sid, connection);
    add(this.byUser, handshake.claims.sub, connection);
    this.ticker ??= setInterval(() => this.tick(), this.pollIntervalMs);
    this.ticker.unref?.();
    // A revocation may have landed between the handshake's check and now.
    if (handshake.generation !== this.generation) this.recheck(connection);
    return () => this.remove(client, connection);
  }

  /**
   * The per-message check of a connection (the guard's, for WebSocket contexts): its token has not
   * expired and its session is live, from the cache like a request. Throws `SessionRefusedError`
   * (unknown connection, or refused: the connection is then ended) or `SessionStoreUnavailableError`.
   */
  async verify(client: unknown): Promise<SessionContext> {
    const connection = typeof client === 'object' && client !== null ? this.byClient.get(client) : undefined;
    if (!connection) throw new SessionRefusedError('unknown');
    if (connection.state === 'ending' || connection.state === 'closed') throw new SessionRefusedError('revoked');
    try {
      await this.assertLive(connection);
      return connection.session;
    } catch (error) {
      if (error instanceof SessionRefusedError) this.recheck(connection);
      throw error;
    }
  }

  /** Stops the timer and the subscription. @internal */
  onApplicationShutdown(): void {
    this.unsubscribe();
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }

  private onRevocation(message: RevocationMessage): void {
    this.generation++;
    const targets = message.t === 'all' ? this.byClient.values() : (message.t === 'user' ? this.byUser : this.bySession).get(message.id);
    for (const connection of targets ?? []) this.recheck(connection);
  }

  /** Expiries always; every connection while revocations may be missed (and once after), else the ones whose check failed. */
  private tick(): void {
    const unhealthy = !this.notifier.busHealthy;
    const all = unhealthy || this.lastTickUnhealthy;
    this.lastTickUnhealthy = unhealthy;
    const now = Date.now() / 1000 - this.config.clockToleranceSeconds;
    for (const connection of this.byClient.values()) {
      if (all || connection.retry || connection.session.expiresAt <= now) this.recheck(connection);
    }
  }

  private recheck(connection: Connection): void {
    if (connection.state === 'checking') connection.state = 'again';
    else if (connection.state === 'idle') void this.check(connection);
  }

  private async check(connection: Connection): Promise<void> {
    let refused: SessionRefusalReason | undefined;
    do {
      connection.state = 'checking';
      connection.retry = false;
      refused = await this.limit.run(() => this.refusal(connection));
    } while (!refused && inState(connection, 'again'));
    if (inState(connection, 'closed')) return;
    if (!refused) {
      connection.state = 'idle';
      return;
    }
    connection.state = 'ending';
    await this.end(connection, refused);
  }

  /** Why the connection must end; undefined when it may go on or the store cannot tell (tried again on the next tick). */
  private async refusal(connection: Connection): Promise<SessionRefusalReason | undefined> {
    try {
      await this.assertLive(connection);
    } catch (error) {
      if (error instanceof SessionRefusedError) return error.reason;
      connection.retry = true;
    }
    return undefined;
  }

  /** Tells the transport to end the connection: `session-ended { reason }` or `reconnect { reason }`. */
  private async end(connection: Connection, refused: SessionRefusalReason): Promise<void> {
    const outcome = await this.settle(connection, refused);
    if (!outcome) return;
    let reason: string;
    if (outcome === 'reconnect') reason = this.tokenExpired(connection) ? 'token-expired' : 'token-renewed';
    else reason = (await this.limit.run(() => this.store.findSession(connection.claims.sid)).catch(() => null))?.endReason ?? refused;
    if (inState(connection, 'closed')) return;
    this.logger.debug(`live connection of session=${connection.claims.sid} ended: ${outcome} (${reason})`);
    try {
      connection.end(outcome === 'ended' ? 'session-ended' : 'reconnect', reason);
    } catch (error) {
      this.logger.error(`ending a live connection failed: ${(error as Error)?.message}`);
    }
  }

  /**
   * Whether the session is over or only the token stopped working. Any refusal but a rotated user
   * token and the access token's expiry means the session is over; for those two the session is
   * looked up (see `settleSessionEnd`). Undefined when the connection closed meanwhile.
   */
  private async settle(connection: Connection, refused: SessionRefusalReason): Promise<SettledEnd | undefined> {
    const expired = this.tokenExpired(connection);
    if (refused !== 'rotated' && !expired) return 'ended';
    const { session } = connection;
    const list = (current?: string) => this.limit.run(() => this.lifecycle.list(session.userId, current));
    const outcome = await settleSessionEnd(session, {
      list: (_userId, current) => list(current),
      settleTime: expired ? 0 : SETTLE_TIME_MS,
      wait: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref?.()),
      closed: () => inState(connection, 'closed'),
    });
    if (outcome !== 'reconnect' || refused !== 'rotated') return outcome;
    // Still there only as "current": renewed (new tokens exist) or not (the user's token rotated
    // with no renewal, e.g. a password set by raw SQL: any refresh would end it).
    const renewed = await list().then((rows) => rows.some((s) => s.id === session.sessionId), () => true);
    return renewed ? 'reconnect' : 'ended';
  }

  /** Throws `SessionRefusedError` when the connection's token expired or its session is no longer live. */
  private async assertLive(connection: Connection): Promise<void> {
    if (this.tokenExpired(connection)) throw new SessionRefusedError('expired');
    await this.authenticator.check(connection.claims);
  }

  private tokenExpired(connection: Connection): boolean {
    return connection.session.expiresAt + this.config.clockToleranceSeconds <= Date.now() / 1000;
  }

  private remove(client: object, connection: Connection): void {
    connection.state = 'closed';
    if (this.byClient.get(client) !== connection) return;
    this.byClient.delete(client);
    drop(this.bySession, connection.claims.sid, connection);
    drop(this.byUser, connection.claims.sub, connection);
    if (this.byClient.size === 0 && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }
}

/** A connection's state, read afresh (it changes while a check awaits). */
const inState = (connection: Connection, state: Connection['state']): boolean => connection.state === state;

function add(index: Map<string, Set<Connection>>, key: string, connection: Connection): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(connection);
}

function drop(index: Map<string, Set<Connection>>, key: string, connection: Connection): void {
  const set = index.get(key);
  if (set?.delete(connection) && set.size === 0) index.delete(key);
}
