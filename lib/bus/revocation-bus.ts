/**
 * A revocation announced to every instance: drop what the cache holds for one user, for one
 * session, or everything.
 */
export type RevocationMessage = { t: 'user'; id: string } | { t: 'session'; id: string } | { t: 'all' };

/** Callbacks a bus reports to. */
export interface RevocationBusHandlers {
  /** A revocation from any instance (including this one). */
  message(message: RevocationMessage): void;
  /** The bus went down (`false`) or came back (`true`). */
  health(up: boolean): void;
}

/**
 * Carries revocations to every instance so their caches drop revoked entries at once. Implement it
 * to bring your own transport (the module's `bus` option takes an instance): deliver every
 * published message to every instance, this one included, and report `health(false)` whenever a
 * message might be missed (the library then checks the store on every request until `health(true)`).
 * Serialize messages with `JSON.stringify` and parse them with {@link parseRevocationMessage}.
 */
export interface RevocationBus {
  /** Connects and subscribes. */
  start(handlers: RevocationBusHandlers): Promise<void>;
  /** Announces a revocation to every instance. */
  publish(message: RevocationMessage): Promise<void>;
  /** Disconnects. */
  close(): Promise<void>;
}

/** Parses a bus payload; undefined for anything malformed. */
export function parseRevocationMessage(payload: string): RevocationMessage | undefined {
  try {
    const value = JSON.parse(payload);
    if (value?.t === 'all') return { t: 'all' };
    if ((value?.t === 'user' || value?.t === 'session') && typeof value.id === 'string' && value.id.length <= 64) {
      return { t: value.t, id: value.id };
    }
  } catch {
    /* ignore malformed payloads */
  }
  return undefined;
}
