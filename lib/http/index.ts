export { secureLogoutHeaders, clearCookieHeader, CLEAR_SITE_DATA } from './logout.js';
export type { AuthCookie } from './logout.js';
export { bearerOrCookie, extractBearerToken, readCookie } from './token-extractors.js';
export { sessionEventStream, SESSION_STREAM_EVENTS } from './session-event-stream.js';
export type { SessionEventStreamOptions } from './session-event-stream.js';
