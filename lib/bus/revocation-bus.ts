import type { RevocationMessage } from '../cache/revocation-cache.js';

/** Callbacks a bus reports to. @internal */
export interface RevocationBusHandlers {
  /** A revocation from any instance (including this one). */
  message(message: RevocationMessage): void;
  /** The bus went down (`false`) or came back (`true`). */
  health(up: boolean): void;
}

/**
 * Carries revocations to every instance so their caches drop revoked entries at once.
 * @internal
 */
export interface RevocationBus {
  /** Connects and subscribes. */
  start(handlers: RevocationBusHandlers): Promise<void>;
  /** Announces a revocation to every instance. */
  publish(message: RevocationMessage): Promise<void>;
  /** Disconnects. */
  close(): Promise<void>;
}

/** Parses a bus payload; undefined for anything malformed. @internal */
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
