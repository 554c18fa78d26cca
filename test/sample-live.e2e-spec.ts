import request from 'supertest';
import { CookieJar, browserRequest } from './support/browser-flow.js';
import { testDatabases } from './support/databases.js';
import { ADMIN, sampleClient, startSample, type SampleApp } from './support/sample-app.js';
import { connectLive, refusedLive, within, type LiveClient } from './support/sockets.js';

/**
 * The sample's socket.io namespace `/live` (DESIGN.md contract): on the app's own port, handshake
 * with `auth: { token }` or the access cookie, `whoami` → `{ userId, sessionId }`, `session-ended`
 * `{ reason }` then disconnect, `connect_error` `Unauthorized` for a bad token.
 */

describe.each(testDatabases())('sample /live socket (%s)', (_name, makeDb) => {
  let s: SampleApp;
  let url: string;
  let client: ReturnType<typeof sampleClient>;
  const open: LiveClient[] = [];
  const connect = async (options: Parameters<typeof connectLive>[1]) => {
    const live = await connectLive(url, options);
    open.push(live);
    return live;
  };

  beforeAll(async () => {
    s = await startSample(makeDb());
    await s.app.listen(0, '127.0.0.1');
    url = await s.app.getUrl();
    client = sampleClient(s.server);
  });
  afterEach(() => {
    for (const live of open.splice(0)) live.socket.close();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('answers whoami over a bearer handshake and refuses bad tokens with Unauthorized', async () => {
    const { id, tokens } = await client.newUser();
    const live = await connect({ token: tokens.accessToken });
    await expect(live.whoami()).resolves.toEqual({ userId: id, sessionId: tokens.sessionId });
    for (const options of [{}, { token: 'garbage' }, { token: tokens.refreshToken }]) {
      expect((await refusedLive(url, options)).message).toBe('Unauthorized');
    }
  });

  it('accepts the account page’s access cookie, and refuses a cross-origin browser handshake', async () => {
    const { email, password, id } = await client.newUser();
    const jar = new CookieJar();
    jar.take(await browserRequest(s.server, jar, 'post', '/auth/login', { csrf: false }).send({ email, password }).expect(200));
    const cookie = jar.header('/');
    const live = await connect({ headers: { cookie } });
    await expect(live.whoami()).resolves.toMatchObject({ userId: id });
    await expect(refusedLive(url, { headers: { cookie, origin: 'https://evil.example' } })).resolves.toBeInstanceOf(Error);
    await connect({ headers: { cookie, origin: url } }); // the page's own origin
  });

  it('DELETE /sessions/:id from another device: that socket gets session-ended and is disconnected, the caller’s stays', async () => {
    const { email, password, tokens: first } = await client.newUser();
    const second = await client.loginOk(email, password, 'other-device');
    const a = await connect({ token: first.accessToken });
    const b = await connect({ token: second.accessToken });
    await request(s.server).delete(`/sessions/${second.sessionId}`).set(client.bearer(first.accessToken)).expect(204);
    await expect(within(b.ended, 2000)).resolves.toEqual({ event: 'session-ended', reason: 'user-revoked' });
    await expect(b.disconnected).resolves.toBe('io server disconnect');
    await expect(a.whoami()).resolves.toMatchObject({ sessionId: first.sessionId });
  });

  it('POST /auth/password: the other device’s socket ends, this device’s gets reconnect and reconnects with the new token', async () => {
    const { email, password, tokens: first } = await client.newUser();
    const second = await client.loginOk(email, password, 'other-device');
    const a = await connect({ token: first.accessToken });
    const b = await connect({ token: second.accessToken });
    const res = await request(s.server)
      .post('/auth/password')
      .set(client.bearer(first.accessToken))
      .send({ currentPassword: password, newPassword: 'a-new-password-2' })
      .expect(200);
    await expect(within(b.ended, 2000)).resolves.toMatchObject({ event: 'session-ended' });
    await expect(within(a.ended, 3000)).resolves.toEqual({ event: 'reconnect', reason: 'token-renewed' });
    const again = await connect({ token: res.body.accessToken });
    await expect(again.whoami()).resolves.toEqual({ userId: expect.anything(), sessionId: first.sessionId });
  });

  it('an admin block ends every socket of that user, with the admin’s reason', async () => {
    const admin = await client.loginOk(ADMIN.email, ADMIN.password);
    const { id, tokens } = await client.newUser();
    const live = await connect({ token: tokens.accessToken });
    await request(s.server).post(`/admin/users/${id}/block`).set(client.bearer(admin.accessToken)).expect(204);
    await expect(within(live.ended, 2000)).resolves.toEqual({ event: 'session-ended', reason: 'admin-block' });
  });
});
