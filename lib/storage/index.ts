export { SessionStore } from './session-store.interface.js';
export type { RefreshTokenRecord, SessionChanges, SessionRecord, UserSnapshot } from './session-store.interface.js';
export { MemorySessionStore } from './memory-session.store.js';
