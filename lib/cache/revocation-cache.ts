import type { RevocationMessage } from '../bus/revocation-bus.js';
import type { SessionFacts } from '../core/session-liveness.js';
import { LruCache } from './lru-cache.js';

export type { RevocationMessage };

/** What the guard needs per user: the keyed fingerprint of the current session token. */
export interface CachedUser {
  /** Fingerprint of the user's session token; null when the user has none or is gone. */
  fingerprint: string | null;
}

/** What the guard needs per session: the liveness facts, and the user entry it was cached with. */
export interface CachedSession extends SessionFacts {
  user: CachedUser;
  /** When the user last proved a credential in the session (ms). */
  authTime: number;
}

/**
 * The guard's per-request cache: users and sessions in one bounded LRU. A session entry is
 * valid only while the very user entry it was cached with is still in the cache, so dropping
 * a user drops all their sessions in O(1). A load that raced with an invalidation is not
 * cached (the `generation` check), so a revoked value can never be written back.
 * @internal
 */
export class RevocationCache {
  private readonly lru: LruCache<CachedUser | CachedSession>;
  private generationCounter = 0;
  private epochCounter = 0;
  private bypass: boolean;

  /** `enabled: false` is strict mode: nothing is ever served from the cache. */
  constructor(
    max: number,
    ttlMs: number,
    private readonly enabled = true,
  ) {
    this.lru = new LruCache(Math.max(max, 1), ttlMs);
    this.bypass = !enabled;
  }

  /** Counts `{ t: 'all' }` revocations, so holders of derived state (the epoch) know to re-read. */
  get epochGeneration(): number {
    return this.epochCounter;
  }

  /** Current invalidation generation; take it before a load, pass it to `set*`. */
  get generation(): number {
    return this.generationCounter;
  }

  get size(): number {
    return this.lru.size;
  }

  get max(): number {
    return this.lru.max;
  }

  /** While set (bus down), nothing is served from or written to the cache. */
  setBypass(bypass: boolean): void {
    this.bypass = bypass || !this.enabled;
    this.clear();
  }

  get bypassed(): boolean {
    return this.bypass;
  }

  getUser(userId: string): CachedUser | undefined {
    return this.bypass ? undefined : (this.lru.get(`u:${userId}`) as CachedUser | undefined);
  }

  setUser(userId: string, user: CachedUser, generation: number): void {
    if (!this.bypass && generation === this.generationCounter) this.lru.set(`u:${userId}`, user);
  }

  getSession(sessionId: string, user: CachedUser): CachedSession | undefined {
    if (this.bypass) return undefined;
    const session = this.lru.get(`s:${sessionId}`) as CachedSession | undefined;
    return session && session.user === user ? session : undefined;
  }

  setSession(sessionId: string, session: CachedSession, generation: number): void {
    if (!this.bypass && generation === this.generationCounter) this.lru.set(`s:${sessionId}`, session);
  }

  /** Applies a revocation locally. */
  apply(message: RevocationMessage): void {
    this.generationCounter++;
    if (message.t === 'user') this.lru.delete(`u:${message.id}`);
    else if (message.t === 'session') this.lru.delete(`s:${message.id}`);
    else {
      this.epochCounter++;
      this.lru.clear();
    }
  }

  clear(): void {
    this.generationCounter++;
    this.lru.clear();
  }
}
