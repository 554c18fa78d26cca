// The sample's account page. It talks to the same JSON API as every other client, in the
// browser flow: `X-Auth-Mode: cookie` makes the server keep the tokens in HttpOnly cookies
// (script here never sees one), and unsafe requests echo the readable `__Host-csrf_token` cookie
// in `X-CSRF-Token`. Private data is only ever fetched (no-store) and written into the DOM,
// never into the HTML, and is wiped on sign-out and whenever the page is hidden.

import { io } from '/socket.io/socket.io.esm.min.js';

const CSRF_COOKIE = '__Host-csrf_token';
const LOCK = 'session-tokens';

const $ = (id) => document.getElementById(id);
const view = {
  loading: $('loading'),
  signedOut: $('signed-out'),
  account: $('account'),
  notice: $('notice'),
  status: $('status'),
  email: $('account-email'),
  devices: document.querySelector('#devices tbody'),
  devicesError: $('devices-error'),
  activity: document.querySelector('#activity tbody'),
  activityError: $('activity-error'),
  live: $('live-state'),
};

let signedIn = false;
let live = null; // the socket of /live while signed in
let liveRetry = 1000;
let liveTimer = null;
let devicesTimer = null;
let pending = 0; // API calls in flight
let idleWaiters = [];
let refreshing = null;

// ---------------------------------------------------------------------------------------
// API

function readCookie(name) {
  for (const part of document.cookie.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

function send(method, path, body) {
  const headers = { Accept: 'application/json', 'X-Auth-Mode': 'cookie' };
  if (method !== 'GET') {
    const csrf = readCookie(CSRF_COOKIE);
    if (csrf) headers['X-CSRF-Token'] = csrf;
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
}

/** Calls that hand out new tokens, and refreshes, run one at a time across this browser's tabs. */
function withTokenLock(fn) {
  return navigator.locks ? navigator.locks.request(LOCK, fn) : fn();
}

/**
 * Renews the access token with the refresh cookie, once for all callers. Refresh tokens are
 * single-use (a second use ends the session), so it runs under a cross-tab lock and first
 * checks whether another tab, or a password change, already did it.
 */
function refreshTokens() {
  if (!readCookie(CSRF_COOKIE)) return Promise.resolve(false); // no browser session here at all
  refreshing ??= withTokenLock(async () => {
    const probe = await send('GET', '/me');
    if (probe.ok) return true;
    if (probe.status !== 401) return false;
    const res = await send('POST', '/auth/refresh', {});
    return res.ok;
  }).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** One API call; a 401 triggers one token refresh and one retry. */
async function api(method, path, body, { issuesTokens = false, retry = true } = {}) {
  pending++;
  try {
    const run = () => (issuesTokens ? withTokenLock(() => send(method, path, body)) : send(method, path, body));
    let res = await run();
    if (res.status === 401 && retry && (await refreshTokens())) res = await run();
    return res;
  } finally {
    if (--pending === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      waiters.forEach((resolve) => resolve());
    }
  }
}

const idle = () => (pending === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve)));

async function messageOf(res, fallback) {
  try {
    const body = await res.json();
    const message = Array.isArray(body.message) ? body.message.join('; ') : body.message;
    return typeof message === 'string' && message ? message : fallback;
  } catch {
    return fallback;
  }
}

// ---------------------------------------------------------------------------------------
// Views

function show(which) {
  view.loading.hidden = which !== 'loading';
  view.signedOut.hidden = which !== 'signed-out';
  view.account.hidden = which !== 'account';
}

function setStatus(text) {
  view.status.textContent = text ?? '';
}

function setNotice(text) {
  view.notice.textContent = text ?? '';
  view.notice.hidden = !text;
}

function formError(form, text) {
  const el = form.querySelector('[data-error]');
  el.textContent = text ?? '';
  el.hidden = !text;
}

/** The account's email, also in the forms' hidden username fields (for password managers). */
function showEmail(email) {
  view.email.textContent = email;
  for (const input of document.querySelectorAll('input.username')) input.value = email;
}

/** Removes every piece of private data from the DOM. */
function clearPrivate() {
  view.email.textContent = '';
  for (const input of document.querySelectorAll('input.username')) input.value = '';
  view.devices.replaceChildren();
  view.devicesError.hidden = true;
  view.activity.replaceChildren();
  view.activityError.hidden = true;
  $('delete-form').querySelector('[data-reauth]').hidden = true;
  for (const form of document.querySelectorAll('form')) {
    form.reset();
    formError(form, '');
  }
}

function showSignedOut() {
  signedIn = false;
  closeLive();
  clearInterval(devicesTimer);
  clearPrivate();
  show('signed-out');
}

/** This device's session ended elsewhere (other device, password change, admin): say so at once. */
function endedElsewhere() {
  if (!signedIn) return;
  showSignedOut();
  setStatus('');
  setNotice('You were signed out on this device: the session was ended from another device, by a password change or by an administrator. Sign in again to continue.');
  // The session is over on the server; clear the now useless cookies too.
  void send('POST', '/auth/logout').catch(() => undefined);
}

function describeAgent(ua) {
  if (!ua) return 'Unknown device';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : /curl\//i.test(ua) ? 'curl' : null;
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Windows/.test(ua) ? 'Windows' : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : null;
  if (browser && os) return `${browser} on ${os}`;
  return browser ?? os ?? ua.slice(0, 60);
}

function ago(date) {
  const seconds = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000));
  if (seconds < 60) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

function cell(text, title) {
  const td = document.createElement('td');
  td.textContent = text;
  if (title) td.title = title;
  return td;
}

function thisDeviceBadge() {
  const badge = document.createElement('span');
  badge.className = 'badge';
  badge.textContent = 'this device';
  return badge;
}

function renderDevices(list) {
  const rows = list.map((device) => {
    const tr = document.createElement('tr');
    tr.dataset.sessionId = device.id;
    if (device.current) tr.classList.add('current');
    const name = cell(describeAgent(device.userAgent), device.userAgent ?? '');
    if (device.current) name.append(thisDeviceBadge());
    const created = new Date(device.createdAt);
    const seen = new Date(device.lastSeenAt);
    tr.append(name, cell(device.ip ?? '', ''), cell(created.toLocaleString(), created.toISOString()), cell(ago(seen), seen.toLocaleString()));
    const action = document.createElement('td');
    if (!device.current) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = 'Sign out';
      button.setAttribute('aria-label', `Sign out ${describeAgent(device.userAgent)} (signed in ${created.toLocaleString()})`);
      button.addEventListener('click', () => signOutDevice(device.id, button));
      action.append(button);
    }
    tr.append(action);
    return tr;
  });
  view.devices.replaceChildren(...rows);
  document.getElementById('sign-out-others').disabled = !list.some((d) => !d.current);
}

/** What an activity entry (GET /me/activity) says, in words. */
function describeActivity({ type, reason }) {
  switch (type) {
    case 'login': return 'Signed in';
    case 'login-failed': return 'Failed sign-in (wrong password)';
    case 'logout': return 'Signed out';
    case 'revoke': return 'A device was signed out';
    case 'session-limit': return 'Signed out: a newer sign-in went past the device limit';
    case 'reauthenticate': return 'Password confirmed';
    case 'reuse-detected': return 'Signed out: a stolen refresh token may have been used';
    case 'block': return 'Account blocked by an administrator';
    case 'unblock': return 'Account unblocked';
    case 'invalidate':
      if (reason === 'password-change') return 'Password changed; other devices signed out';
      if (reason === 'email-change') return 'Email changed; other devices signed out';
      if (reason === 'logout-others') return 'Every other device was signed out';
      if (reason === 'logout-all') return 'Signed out on every device';
      return 'Devices signed out';
    default: return type;
  }
}

function renderActivity(list) {
  const rows = list.map((entry) => {
    const tr = document.createElement('tr');
    const at = new Date(entry.at);
    const what = cell(describeActivity(entry), entry.reason ?? '');
    if (entry.current) what.append(thisDeviceBadge());
    tr.append(cell(ago(at), at.toLocaleString()), what, cell(entry.userAgent ? describeAgent(entry.userAgent) : '', entry.userAgent ?? ''), cell(entry.ip ?? ''));
    return tr;
  });
  view.activity.replaceChildren(...rows);
}

// ---------------------------------------------------------------------------------------
// Flows

async function loadAccount() {
  const res = await api('GET', '/me');
  if (res.status === 401) return showSignedOut();
  if (!res.ok) {
    show('signed-out');
    setNotice(`The server answered ${res.status}; try again in a moment.`);
    return;
  }
  const me = await res.json();
  signedIn = true;
  showEmail(me.email);
  show('account');
  await loadDevices();
  openLive();
  clearInterval(devicesTimer);
  devicesTimer = setInterval(() => void loadDevices(), 30_000);
}

/** Loads one of the account's lists into the page; a 401 means the session ended elsewhere. */
async function loadList(path, errorView, failure, render) {
  if (!signedIn) return;
  const res = await api('GET', path);
  if (res.status === 401) return endedElsewhere();
  if (!res.ok) {
    errorView.textContent = await messageOf(res, failure);
    errorView.hidden = false;
    return;
  }
  errorView.hidden = true;
  render(await res.json());
}

async function loadDevices() {
  await loadList('/sessions', view.devicesError, 'Could not load the devices.', renderDevices);
  await loadActivity(); // whatever changed the devices is in the activity too
}

const loadActivity = () => loadList('/me/activity', view.activityError, 'Could not load the activity.', renderActivity);

async function signOutDevice(id, button) {
  button.disabled = true;
  const res = await api('DELETE', `/sessions/${encodeURIComponent(id)}`);
  if (res.status === 401) return endedElsewhere();
  if (res.status === 204) setStatus('That device was signed out.');
  else if (res.status === 404) setStatus('That device was already signed out.');
  else setStatus(await messageOf(res, 'Could not sign that device out.'));
  await loadDevices();
}

async function signOutOthers(event) {
  event.currentTarget.disabled = true;
  const res = await api('POST', '/auth/logout-all', { keepCurrent: true });
  if (res.status === 401) return endedElsewhere();
  setStatus(res.ok ? 'Every other device was signed out.' : await messageOf(res, 'Could not sign the other devices out.'));
  await loadDevices();
}

async function signOut() {
  closeLive();
  await api('POST', '/auth/logout', undefined, { retry: false });
  signedIn = false;
  clearPrivate();
  // A new history entry: the back button leads to `/`, which asks the API again (and the
  // API answers 401 now), so it never shows the signed-in page.
  location.assign('/?signed-out');
}

function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

async function submitting(form, fn) {
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  formError(form, '');
  try {
    await fn(formValues(form));
  } catch {
    formError(form, 'The server could not be reached.');
  } finally {
    button.disabled = false;
  }
}

async function signIn(email, password) {
  const res = await api('POST', '/auth/login', { email, password }, { issuesTokens: true, retry: false });
  if (res.ok) {
    setNotice('');
    setStatus('');
    history.replaceState(null, '', '/');
    await loadAccount();
    return null;
  }
  return res.status === 401 ? 'Wrong email or password.' : await messageOf(res, 'Could not sign in.');
}

function onSignIn(event) {
  event.preventDefault();
  const form = event.currentTarget;
  return submitting(form, async ({ email, password }) => {
    const error = await signIn(email, password);
    if (error) formError(form, error);
  });
}

function onSignUp(event) {
  event.preventDefault();
  const form = event.currentTarget;
  return submitting(form, async ({ email, password }) => {
    const res = await api('POST', '/auth/register', { email, password }, { retry: false });
    if (res.status === 409) return formError(form, 'That email is already registered.');
    if (!res.ok) return formError(form, await messageOf(res, 'Could not create the account.'));
    const error = await signIn(email, password);
    if (error) formError(form, error);
  });
}

function onChangePassword(event) {
  event.preventDefault();
  const form = event.currentTarget;
  return submitting(form, async (values) => {
    const res = await api('POST', '/auth/password', values, { issuesTokens: true });
    if (res.status === 401) return endedElsewhere();
    if (res.status === 403) return formError(form, 'The current password is not correct.');
    if (!res.ok) return formError(form, await messageOf(res, 'Could not change the password.'));
    form.reset();
    showEmail(view.email.textContent);
    setStatus('Password changed. Every other device was signed out; this one stays signed in.');
    await loadDevices();
  });
}

function onChangeEmail(event) {
  event.preventDefault();
  const form = event.currentTarget;
  return submitting(form, async (values) => {
    const res = await api('PATCH', '/me', values, { issuesTokens: true });
    if (res.status === 401) return endedElsewhere();
    if (res.status === 403) return formError(form, 'The current password is not correct.');
    if (res.status === 409) return formError(form, 'That email is already registered.');
    if (!res.ok) return formError(form, await messageOf(res, 'Could not change the email.'));
    const me = await res.json();
    form.reset();
    showEmail(me.email);
    setStatus('Email changed. Every other device was signed out; this one stays signed in.');
    await loadDevices();
  });
}

/** POST /auth/reauthenticate; a 401 for an expired access token (not for the password) refreshes once. */
async function reauthenticate(password) {
  const run = () => api('POST', '/auth/reauthenticate', { password }, { retry: false });
  let res = await run();
  if (res.status === 401 && /invalid_token/.test(res.headers.get('WWW-Authenticate') ?? '') && (await refreshTokens())) res = await run();
  return res;
}

function onDeleteAccount(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const reauth = form.querySelector('[data-reauth]');
  return submitting(form, async ({ password }) => {
    if (!confirm('Delete your account? Every device is signed out and the account cannot be restored.')) return;
    if (!reauth.hidden) {
      if (!password) return formError(form, 'Enter your password to confirm.');
      const res = await reauthenticate(password);
      if (res.status === 401 && /invalid_token/.test(res.headers.get('WWW-Authenticate') ?? '')) return endedElsewhere();
      if (res.status === 401) return formError(form, 'The password is not correct.');
      if (!res.ok) return formError(form, await messageOf(res, 'Could not confirm the password.'));
    }
    closeEvents(); // this session is about to end: that is no news for this tab
    const res = await api('DELETE', '/me');
    if (res.status !== 204) openEvents();
    if (res.status === 401 && /insufficient_user_authentication/.test(res.headers.get('WWW-Authenticate') ?? '')) {
      reauth.hidden = false;
      reauth.querySelector('input').focus();
      return formError(form, 'You signed in a while ago: enter your password to confirm.');
    }
    if (res.status === 401) return endedElsewhere();
    if (res.status !== 204) return formError(form, await messageOf(res, 'Could not delete the account.'));
    signedIn = false;
    closeEvents();
    clearPrivate();
    location.assign('/?deleted');
  });
}

// ---------------------------------------------------------------------------------------
// Live notice: the socket.io namespace /live (the HttpOnly access cookie authenticates the
// handshake). The server says `session-ended` when this device's session is over, and
// `reconnect` when only its token stopped working (this device's own password or email change,
// or the access token's expiry): then it disconnects. One socket per tab, over the WebSocket
// transport: unlike a server-sent-events stream it does not hold one of the browser's few
// HTTP/1.1 connections to this origin, which several open tabs would otherwise use up.

function setLive(on) {
  view.live.dataset.state = on ? 'on' : 'off';
  view.live.querySelector('span').textContent = on ? 'on' : 'off';
}

function closeLive() {
  clearTimeout(liveTimer);
  liveTimer = null;
  if (live) {
    live.removeAllListeners();
    live.disconnect();
  }
  live = null;
  setLive(false);
}

function openLive() {
  closeLive();
  if (!signedIn) return;
  const socket = io('/live', { transports: ['websocket'], reconnectionDelayMax: 30_000 });
  live = socket;
  socket.on('connect', () => {
    liveRetry = 1000;
    setLive(true);
  });
  socket.on('session-ended', () => {
    closeLive();
    endedElsewhere();
  });
  // This device's token is superseded: reconnect once the call that renewed it is done and the
  // cookies are set (or, after an expiry, once /me has refreshed them).
  socket.on('reconnect', () => {
    closeLive();
    void idle().then(() => scheduleLiveCheck(200));
  });
  // Network trouble or a server restart: socket.io reconnects by itself.
  socket.on('disconnect', () => setLive(false));
  // A refused handshake (`Unauthorized`: the access token expired, or the session is over):
  // ask the API, which refreshes the tokens, then open the socket again.
  socket.on('connect_error', () => {
    if (live !== socket) return;
    closeLive();
    scheduleLiveCheck(liveRetry);
    liveRetry = Math.min(liveRetry * 2, 30_000);
  });
}

function scheduleLiveCheck(delay) {
  clearTimeout(liveTimer);
  liveTimer = setTimeout(async () => {
    liveTimer = null;
    if (!signedIn) return;
    try {
      const res = await api('GET', '/me'); // refreshes the tokens when they expired
      if (res.status === 401) return endedElsewhere();
      if (res.ok) return openLive();
    } catch {
      /* offline: try again below */
    }
    scheduleLiveCheck(Math.min(delay * 2, 30_000));
  }, delay);
}

// ---------------------------------------------------------------------------------------
// Start

$('sign-in-form').addEventListener('submit', onSignIn);
$('sign-up-form').addEventListener('submit', onSignUp);
$('password-form').addEventListener('submit', onChangePassword);
$('email-form').addEventListener('submit', onChangeEmail);
$('delete-form').addEventListener('submit', onDeleteAccount);
$('sign-out').addEventListener('click', () => void signOut());
$('sign-out-others').addEventListener('click', (event) => void signOutOthers(event));

// Leaving the page (also into the back/forward cache): take the private data out of the DOM.
window.addEventListener('pagehide', () => {
  closeLive();
  clearInterval(devicesTimer);
  clearPrivate();
  show('loading');
});
// Back from the back/forward cache: ask the server again, never trust what was on screen.
window.addEventListener('pageshow', (event) => {
  if (event.persisted) {
    signedIn = false;
    void loadAccount();
  }
});
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && signedIn) void loadDevices();
});

if (new URLSearchParams(location.search).has('signed-out')) setStatus('You are signed out.');
if (new URLSearchParams(location.search).has('deleted')) setStatus('Your account was deleted.');
void loadAccount();
