// nestjs-session-revocation/ws: needs @nestjs/websockets, @nestjs/platform-ws and ws.
export { SessionWsAdapter, SESSION_CLOSE_CODE } from './session-ws.adapter.js';
export type { ConnectionEndEvent } from '../core/session-connection-registry.js';
