export { SessionStore } from './session-store.interface.js';
export type { ActivityRecord, AttemptRecord, PruneCounts, PruneCutoff, RefreshTokenRecord, SessionChanges, SessionCheckRecord, SessionRecord, SessionState, UserSnapshot } from './session-store.interface.js';
export { MemorySessionStore } from './memory-session.store.js';
