import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { RevocationBus, RevocationBusHandlers } from './revocation-bus.js';
import { RevocationCache, type RevocationMessage } from '../cache/revocation-cache.js';
import { RevocationNotifier } from './revocation-notifier.js';

/** A bus whose publish can be made to fail or to never answer. */
class FakeBus implements RevocationBus {
  handlers!: RevocationBusHandlers;
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  readonly published: RevocationMessage[] = [];
  attempts = 0;
  closed = false;

  async start(handlers: RevocationBusHandlers): Promise<void> {
    this.handlers = handlers;
    handlers.health(true);
  }

  publish(message: RevocationMessage): Promise<void> {
    this.attempts++;
    if (this.mode === 'fail') return Promise.reject(new Error('Connection is closed.'));
    if (this.mode === 'hang') return new Promise<void>(() => undefined);
    this.published.push(message);
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
async function until(probe: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const start = Date.now();
  while (!probe()) {
    if (Date.now() - start > timeoutMs) return false;
    await sleep(5);
  }
  return true;
}

/** 'returned' if `promise` settles within `ms`, else 'still waiting'. */
async function within(promise: Promise<unknown>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still waiting'), ms)));
  try {
    return await Promise.race([promise.then(() => 'returned'), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const user = (id: string): RevocationMessage => ({ t: 'user', id });

describe('RevocationNotifier', () => {
  let bus: FakeBus;
  let cache: RevocationCache;
  let notifier: RevocationNotifier;
  let warn: ReturnType<typeof jest.spyOn>;

  beforeEach(async () => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    bus = new FakeBus();
    cache = new RevocationCache(100, 60_000);
    notifier = new RevocationNotifier(cache, bus, undefined, { publishTimeoutMs: 50, maxPending: 3, retryMinMs: 10, retryMaxMs: 20 });
    await notifier.start();
  });
  afterEach(async () => {
    await notifier.close();
    jest.restoreAllMocks();
  });

  /** Caches user `id` the way the guard does. */
  const cacheUser = (id: string): void => {
    const now = Date.now();
    const claims = { sub: id, sid: `sid-${id}`, sfp: `fp-${id}`, iat: 0, exp: 0 };
    const facts = { userId: id, createdAt: now, lastSeenAt: now, expiresAt: now + 60_000, absoluteExpiresAt: now + 60_000, endedAt: null, authTime: now };
    cache.setToken(`token-${id}`, claims, { userId: id, fingerprint: `fp-${id}` }, facts, now, cache.generation);
    expect(cache.getUser(id)).toBeDefined();
  };

  it('serves from the cache while the bus is up and publishes each revocation', async () => {
    expect(cache.bypassed).toBe(false);
    cacheUser('1');
    await notifier.revoke(user('1'));
    expect(cache.getUser('1')).toBeUndefined();
    expect(bus.published).toEqual([user('1')]);
  });

  it('a failed publish: applied here at once, queued, the cache bypassed, and re-sent when the bus works again', async () => {
    cacheUser('1');
    bus.mode = 'fail';
    await notifier.revoke(user('1'));
    expect(cache.getUser('1')).toBeUndefined();
    expect(notifier.pendingCount).toBe(1);
    expect(cache.bypassed).toBe(true);
    // Retries keep failing meanwhile; nothing is lost.
    await sleep(60);
    expect(bus.attempts).toBeGreaterThan(1);
    expect(notifier.pendingCount).toBe(1);

    bus.mode = 'ok';
    expect(await until(() => notifier.pendingCount === 0)).toBe(true);
    expect(bus.published).toEqual([user('1')]);
    expect(cache.bypassed).toBe(false);
  });

  it('the bus reporting itself ready again flushes the queue at once (no retry timer needed)', async () => {
    await notifier.close();
    bus = new FakeBus();
    notifier = new RevocationNotifier(cache, bus, undefined, { publishTimeoutMs: 50, retryMinMs: 60_000, retryMaxMs: 60_000 });
    await notifier.start();
    bus.mode = 'fail';
    bus.handlers.health(false);
    await notifier.revoke(user('7'));
    expect(notifier.pendingCount).toBe(1);
    bus.mode = 'ok';
    bus.handlers.health(true);
    expect(await until(() => bus.published.length === 1)).toBe(true);
    expect(bus.published).toEqual([user('7')]);
    expect(await until(() => !cache.bypassed)).toBe(true);
  });

  it('a publish that never answers: revoke() still returns, and the message is re-sent later', async () => {
    bus.mode = 'hang';
    const outcome = await within(notifier.revoke(user('2')), 2000);
    expect(outcome).toBe('returned');
    expect(notifier.pendingCount).toBe(1);
    expect(cache.bypassed).toBe(true);
    // While messages wait, later revocations join the queue without waiting for the bus.
    const second = await within(notifier.revoke(user('3')), 2000);
    expect(second).toBe('returned');
    bus.mode = 'ok';
    expect(await until(() => notifier.pendingCount === 0)).toBe(true);
    expect(bus.published).toEqual([user('2'), user('3')]);
  });

  it('more than maxPending waiting messages collapse into one { t: "all" }', async () => {
    bus.mode = 'fail';
    for (const id of ['1', '2', '3', '4', '5']) await notifier.revoke(user(id));
    expect(notifier.pendingCount).toBe(1);
    bus.mode = 'ok';
    expect(await until(() => notifier.pendingCount === 0)).toBe(true);
    expect(bus.published).toEqual([{ t: 'all' }]);
  });

  it('a queued { t: "all" } covers every message queued after it', async () => {
    bus.mode = 'fail';
    await notifier.revoke(user('1'));
    await notifier.revoke({ t: 'all' });
    await notifier.revoke({ t: 'session', id: 's' });
    expect(notifier.pendingCount).toBe(1);
    bus.mode = 'ok';
    expect(await until(() => notifier.pendingCount === 0)).toBe(true);
    expect(bus.published).toEqual([{ t: 'all' }]);
  });

  it('says so once per outage, without the message contents', async () => {
    bus.mode = 'fail';
    await notifier.revoke(user('secret-looking-id-1'));
    await notifier.revoke(user('secret-looking-id-2'));
    await sleep(60);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).not.toContain('secret-looking-id');
  });

  it('close(): one last attempt for what is queued, no retries afterwards, bus closed', async () => {
    bus.mode = 'fail';
    await notifier.revoke(user('1'));
    bus.mode = 'ok';
    await notifier.close();
    expect(bus.published).toEqual([user('1')]);
    expect(bus.closed).toBe(true);
    const attempts = bus.attempts;
    await notifier.revoke(user('2'));
    await sleep(60);
    expect(bus.attempts).toBe(attempts);
  });
});
