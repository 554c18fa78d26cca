import { jest } from '@jest/globals';
import type { MessageEvent } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import type { SessionInfo } from '../interfaces/session-context.interface.js';
import { SESSION_STREAM_EVENTS, sessionEventStream } from './session-event-stream.js';
import type { SessionEnded } from '../session.service.js';

const SID = '6f1c1c43-6c1a-4c8e-9a43-2f3f1b5a9d10';
const OTHER = '0b7c6a2e-3f0e-4c53-9a8e-1d2f3a4b5c6d';
const row = (id: string): SessionInfo => ({ id, current: false, userAgent: null, ip: null, createdAt: new Date(0), lastSeenAt: new Date(0) });

/** A stand-in for SessionService: watch() is a subject the test fires, list() answers what the test says. */
function fakeSessions(live: () => Promise<SessionInfo[]>) {
  const ended = new Subject<SessionEnded>();
  const calls = { watch: [] as Array<[string, unknown]>, list: [] as unknown[], watchers: 0 };
  return {
    ended,
    calls,
    sessions: {
      watch(token: string, options?: { pollInterval?: number }) {
        calls.watch.push([token, options]);
        // Counts live subscriptions to prove the teardown.
        return new Observable<SessionEnded>((subscriber) => {
          calls.watchers++;
          const subscription = ended.subscribe(subscriber);
          return () => {
            calls.watchers--;
            subscription.unsubscribe();
          };
        });
      },
      list(userId: unknown) {
        calls.list.push(userId);
        return live();
      },
    } as any,
  };
}

function collect(observable: ReturnType<typeof sessionEventStream>) {
  const events: MessageEvent[] = [];
  let completed = false;
  const subscription = observable.subscribe({ next: (e) => events.push(e), complete: () => (completed = true) });
  return { events, subscription, completed: () => completed };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('sessionEventStream', () => {
  afterEach(() => jest.useRealTimers());

  it('starts with a ready event carrying retry and the session id (never the token)', () => {
    const { sessions, calls } = fakeSessions(async () => [row(SID)]);
    const out = collect(sessionEventStream(sessions, 'the.access.token', { userId: 7, sessionId: SID }, { heartbeatInterval: 0 }));
    expect(out.events).toEqual([{ type: 'ready', retry: 2000, data: { sessionId: SID } }]);
    expect(JSON.stringify(out.events)).not.toContain('the.access.token');
    expect(calls.watch).toEqual([['the.access.token', {}]]);
    out.subscription.unsubscribe();
  });

  it('sends session-ended and completes when the session is no longer live', async () => {
    const { sessions, ended, calls } = fakeSessions(async () => [row(OTHER)]);
    const out = collect(sessionEventStream(sessions, 't', { userId: 7, sessionId: SID }, { heartbeatInterval: 0 }));
    const at = new Date('2030-01-02T03:04:05.000Z');
    ended.next({ sessionId: SID, at });
    await flush();
    expect(calls.list).toEqual([7]);
    expect(out.events.slice(1)).toEqual([{ type: SESSION_STREAM_EVENTS.ended, data: { sessionId: SID, at: '2030-01-02T03:04:05.000Z' } }]);
    expect(out.completed()).toBe(true);
    expect(calls.watchers).toBe(0);
  });

  it('sends reconnect (not session-ended) when the session is still live after the settle time: only the token was superseded', async () => {
    jest.useFakeTimers();
    const { sessions, ended, calls } = fakeSessions(async () => [row(OTHER), row(SID)]);
    const out = collect(sessionEventStream(sessions, 't', { userId: 7, sessionId: SID }, { heartbeatInterval: 0, settleTime: 1000 }));
    ended.next({ sessionId: SID, at: new Date() });
    await jest.advanceTimersByTimeAsync(900);
    expect(out.events.map((e) => e.type)).toEqual(['ready']);
    await jest.advanceTimersByTimeAsync(100);
    expect(out.events.slice(1)).toEqual([{ type: 'reconnect', data: { sessionId: SID } }]);
    expect(calls.list).toHaveLength(5);
    expect(out.completed()).toBe(true);
  });

  it('sends session-ended as soon as a session that still looked live is gone (password change: token rotated first, sessions ended next)', async () => {
    jest.useFakeTimers();
    let answers = 0;
    const { sessions, ended } = fakeSessions(async () => (++answers <= 2 ? [row(SID)] : []));
    const out = collect(sessionEventStream(sessions, 't', { userId: 7, sessionId: SID }, { heartbeatInterval: 0, settleTime: 1000 }));
    ended.next({ sessionId: SID, at: new Date() });
    await jest.advanceTimersByTimeAsync(250);
    expect(out.events.map((e) => e.type)).toEqual(['ready', 'session-ended']);
    expect(answers).toBe(3);
    expect(out.completed()).toBe(true);
  });

  it('sends reconnect when the store cannot answer, so the client gets checked again', async () => {
    const { sessions, ended } = fakeSessions(async () => {
      throw new Error('db down');
    });
    const out = collect(sessionEventStream(sessions, 't', { userId: 7, sessionId: SID }, { heartbeatInterval: 0 }));
    ended.next({ sessionId: SID, at: new Date() });
    await flush();
    expect(out.events.map((e) => e.type)).toEqual(['ready', 'reconnect']);
  });

  it('writes keep-alive comments at the heartbeat interval until unsubscribed, then stops watching', () => {
    jest.useFakeTimers();
    const { sessions, calls } = fakeSessions(async () => [row(SID)]);
    const out = collect(sessionEventStream(sessions, 't', { userId: 7, sessionId: SID }, { heartbeatInterval: 1000, pollInterval: 250, retry: 500 }));
    expect(out.events[0]).toMatchObject({ type: 'ready', retry: 500 });
    expect(calls.watch[0][1]).toEqual({ pollInterval: 250 });
    jest.advanceTimersByTime(3500);
    expect(out.events.slice(1)).toEqual([{ comment: 'keep-alive' }, { comment: 'keep-alive' }, { comment: 'keep-alive' }]);
    expect(calls.watchers).toBe(1);
    out.subscription.unsubscribe();
    expect(calls.watchers).toBe(0);
    jest.advanceTimersByTime(5000);
    expect(out.events).toHaveLength(4);
  });

  it('emits nothing after the client went away while the liveness check was running', async () => {
    let answer!: (rows: SessionInfo[]) => void;
    const { sessions, ended } = fakeSessions(() => new Promise((resolve) => (answer = resolve)));
    const out = collect(sessionEventStream(sessions, 't', { userId: 7, sessionId: SID }, { heartbeatInterval: 0 }));
    ended.next({ sessionId: SID, at: new Date() });
    out.subscription.unsubscribe();
    answer([]);
    await flush();
    expect(out.events.map((e) => e.type)).toEqual(['ready']);
  });

  it('stops re-checking when the client goes away during the settle time', async () => {
    jest.useFakeTimers();
    const { sessions, ended, calls } = fakeSessions(async () => [row(SID)]);
    const out = collect(sessionEventStream(sessions, 't', { userId: 7, sessionId: SID }, { heartbeatInterval: 0 }));
    ended.next({ sessionId: SID, at: new Date() });
    await jest.advanceTimersByTimeAsync(150);
    out.subscription.unsubscribe();
    const checks = calls.list.length;
    await jest.advanceTimersByTimeAsync(5000);
    expect(calls.list).toHaveLength(checks);
    expect(out.events.map((e) => e.type)).toEqual(['ready']);
    expect(jest.getTimerCount()).toBe(0);
  });

  describe('end at the access token expiry', () => {
    it("ends with reconnect at the session's expiresAt (the token's exp), even though the session is live", async () => {
      jest.useFakeTimers({ now: new Date('2030-01-01T00:00:00.000Z') });
      const { sessions, calls } = fakeSessions(async () => [row(SID)]);
      const expiresAt = Date.parse('2030-01-01T00:15:00.000Z') / 1000;
      const out = collect(sessionEventStream(sessions, 't', { userId: 7, sessionId: SID, expiresAt }, { heartbeatInterval: 0 }));
      await jest.advanceTimersByTimeAsync(900_000 - 1);
      expect(out.events.map((e) => e.type)).toEqual(['ready']);
      expect(calls.watchers).toBe(1);
      await jest.advanceTimersByTimeAsync(1);
      expect(out.events.slice(1)).toEqual([{ type: SESSION_STREAM_EVENTS.reconnect, data: { sessionId: SID } }]);
      expect(out.completed()).toBe(true);
      expect(calls.watchers).toBe(0);
      expect(calls.list).toEqual([]); // no settle check: the token expired, nothing ended
      expect(jest.getTimerCount()).toBe(0);
    });

    it('endAt overrides expiresAt; null keeps the stream open for as long as the session lives', async () => {
      jest.useFakeTimers({ now: 0 });
      const { sessions } = fakeSessions(async () => [row(SID)]);
      const session = { userId: 7, sessionId: SID, expiresAt: 900 };
      const early = collect(sessionEventStream(sessions, 't', session, { heartbeatInterval: 0, endAt: new Date(60_000) }));
      const never = collect(sessionEventStream(sessions, 't', session, { heartbeatInterval: 0, endAt: null }));
      await jest.advanceTimersByTimeAsync(60_000);
      expect(early.events.map((e) => e.type)).toEqual(['ready', 'reconnect']);
      await jest.advanceTimersByTimeAsync(90 * 24 * 3600 * 1000);
      expect(never.events.map((e) => e.type)).toEqual(['ready']);
      expect(never.completed()).toBe(false);
      never.subscription.unsubscribe();
    });

    it('waits past the longest setTimeout delay without firing early (re-armed)', async () => {
      jest.useFakeTimers({ now: 0 });
      const { sessions } = fakeSessions(async () => [row(SID)]);
      const days = (n: number) => n * 24 * 3600 * 1000;
      const out = collect(sessionEventStream(sessions, 't', { userId: 7, sessionId: SID }, { heartbeatInterval: 0, endAt: new Date(days(40)) }));
      await jest.advanceTimersByTimeAsync(days(40) - 1);
      expect(out.events.map((e) => e.type)).toEqual(['ready']);
      await jest.advanceTimersByTimeAsync(1);
      expect(out.events.map((e) => e.type)).toEqual(['ready', 'reconnect']);
    });

    it('a token already expired when the stream opens: ready, then reconnect at once, and nothing left running', () => {
      jest.useFakeTimers({ now: 1_000_000 });
      const { sessions, calls } = fakeSessions(async () => [row(SID)]);
      const out = collect(sessionEventStream(sessions, 't', { userId: 7, sessionId: SID, expiresAt: 999 }, { heartbeatInterval: 1000 }));
      expect(out.events.map((e) => e.type)).toEqual(['ready', 'reconnect']);
      expect(out.completed()).toBe(true);
      expect(calls.watchers).toBe(0);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('a session that ends first says session-ended, and the expiry does not cut the settle check short', async () => {
      jest.useFakeTimers({ now: 0 });
      let answers = 0;
      const { sessions, ended } = fakeSessions(async () => (++answers <= 2 ? [row(SID)] : []));
      const out = collect(sessionEventStream(sessions, 't', { userId: 7, sessionId: SID, expiresAt: 1 }, { heartbeatInterval: 0, settleTime: 1000 }));
      await jest.advanceTimersByTimeAsync(900);
      ended.next({ sessionId: SID, at: new Date() });
      await jest.advanceTimersByTimeAsync(400); // the expiry (at 1 000 ms) falls inside the settle time
      expect(out.events.map((e) => e.type)).toEqual(['ready', 'session-ended']);
      expect(out.completed()).toBe(true);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('the client going away clears the expiry timer', () => {
      jest.useFakeTimers({ now: 0 });
      const { sessions } = fakeSessions(async () => [row(SID)]);
      const out = collect(sessionEventStream(sessions, 't', { userId: 7, sessionId: SID, expiresAt: 900 }, { heartbeatInterval: 0 }));
      expect(jest.getTimerCount()).toBe(1);
      out.subscription.unsubscribe();
      expect(jest.getTimerCount()).toBe(0);
    });
  });
});
