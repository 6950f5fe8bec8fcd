// Browser tests of the built-in web client (issue 9): the real monochat binary serves the
// client, and Playwright drives Debian's chromium headless through it as people would.
// Screenshots of every open page are saved into $MONOCHAT_BROWSER_OUT when a test fails.
// The harness (browser, server, helpers) is harness.mjs; issue 19's tests are web19.test.mjs.
// Issue 21's Web Push tests are the last block (they share this file's server and browser).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test, before, after, describe } from 'node:test';
import ece from 'http_ece';
import {
  OUT, RUN, PASSWORD, WAIT, browserTest, newPage, online, register, login, send, texts, expectTexts,
  conv, setupSuite, collectTexts,
} from './harness.mjs';
import { Server } from './server.mjs';

const suite = setupSuite();

browserTest('the binary serves the client, and API paths stay JSON', async () => {
  const index = await fetch(`${suite.server.url}/`);
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type'), /^text\/html/);
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  const etag = index.headers.get('etag');
  assert.ok(etag);
  const again = await fetch(`${suite.server.url}/`, { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  const js = await fetch(`${suite.server.url}/js/main.js`);
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  assert.equal((await fetch(`${suite.server.url}/nope.html`)).status, 404);
  assert.equal((await fetch(`${suite.server.url}/..%2f..%2fetc/passwd`)).status, 404);
  const api = await fetch(`${suite.server.url}/api/v1/nope`);
  assert.equal(api.status, 404);
  assert.match(api.headers.get('content-type'), /application\/json/);
  assert.equal((await fetch(`${suite.server.url}/healthz`)).status, 200);
});

browserTest('two friends chat: typing, read receipts, and an offline gap filled once and in order', async () => {
  const alice = `alice_${RUN}`;
  const bob = `bob_${RUN}`;
  const a = await newPage(suite.server.url);
  const b = await newPage(suite.server.url);
  await register(a, alice, 'Alice');
  await register(b, bob, 'Bob');

  // Alice finds Bob and asks; Bob accepts; both see each other as friends.
  await a.getByRole('tab', { name: /Friends/ }).click();
  await a.getByLabel('Find people by username').fill(bob.slice(0, 5));
  await a.getByRole('button', { name: 'Find', exact: true }).click();
  await a.getByRole('button', { name: `Add friend ${bob}` }).click();
  await b.locator('#req-badge:not([hidden])').waitFor();
  await b.getByRole('tab', { name: /Friends/ }).click();
  await b.getByRole('button', { name: 'Accept Alice' }).click();
  await a.getByRole('button', { name: 'Chat with Bob' }).click();

  await send(a, 'hello bob');
  await a.locator('#messages li.msg.mine .status[data-status="sent"]').waitFor();

  // Bob: the chat appears with an unread badge; opening it sends a read receipt.
  await b.getByRole('tab', { name: 'Chats' }).click();
  await conv(b, 'Alice').locator('.badge.unread').waitFor();
  await conv(b, 'Alice').click();
  await expectTexts(b, ['hello bob']);
  await a.locator('#messages li.msg.mine .status[data-status="read"]').waitFor();

  // Typing shows on the other side.
  await b.getByLabel('Message', { exact: true }).pressSequentially('hi al');
  await a.locator('#typing', { hasText: 'Bob is typing' }).waitFor();
  await b.getByLabel('Message', { exact: true }).fill('hi alice');
  await b.getByLabel('Message', { exact: true }).press('Enter');
  await expectTexts(a, ['hello bob', 'hi alice']);

  // Bob goes offline; Alice sends; Bob comes back and has every message once, in order.
  await b.context().setOffline(true);
  await b.locator('#conn-state:not([data-state="open"])').waitFor();
  const missed = [];
  for (let i = 1; i <= 6; i++) {
    missed.push(`while you were away ${i}`);
    await send(a, missed[i - 1]);
  }
  await expectTexts(a, ['hello bob', 'hi alice', ...missed]);
  await b.context().setOffline(false);
  await online(b);
  await expectTexts(b, ['hello bob', 'hi alice', ...missed]);
  await b.waitForTimeout(500);
  await expectTexts(b, ['hello bob', 'hi alice', ...missed]);
  await a.locator('#messages li.msg.mine').last().locator('.status[data-status="read"]').waitFor();
  // Presence: Bob is shown online to Alice.
  await conv(a, 'Bob').locator('.dot.on').waitFor();
});

browserTest('a guest chats in the world room on a phone-sized screen', async () => {
  const g = await newPage(suite.server.url, { phone: true });
  await g.getByRole('tab', { name: 'Guest' }).click();
  await g.locator('#form-guest').getByLabel('Display name').fill('Wanderer');
  await g.getByRole('button', { name: 'Continue as guest' }).click();
  await online(g);
  // Phone layout: the list first, then the chat with a back button.
  assert.equal(await g.locator('#chat').isVisible(), false);
  await conv(g, 'World').click();
  assert.equal(await g.locator('#sidebar').isVisible(), false);
  await g.getByRole('button', { name: 'Back to conversations' }).waitFor();

  const r = await newPage(suite.server.url);
  await register(r, `carol_${RUN}`, 'Carol');
  await conv(r, 'World').click();
  const hello = `guest says hi ${RUN}`;
  await send(g, hello);
  await r.locator('#messages .text', { hasText: hello }).waitFor();
  // A guest's name carries a visible "guest" tag, so a guest cannot pass for a user (issue 17).
  const guestRow = r.locator('#messages li.msg', { has: r.locator('.text', { hasText: hello }) });
  await guestRow.locator('.who .guest-tag', { hasText: 'guest' }).waitFor();
  assert.equal(await r.locator('#messages li.msg.mine .guest-tag').count(), 0);
  await send(r, `welcome, guest ${RUN}`);
  await g.locator('#messages .text', { hasText: `welcome, guest ${RUN}` }).waitFor();
  // Guests have no friends or groups tabs.
  await g.getByRole('button', { name: 'Back to conversations' }).click();
  assert.equal(await g.getByRole('tab', { name: /Friends/ }).isVisible(), false);
  // Logging out revokes the token: the sign-in screen is back, also after a reload.
  const token = await g.evaluate(() => localStorage.getItem('monochat.token'));
  await g.getByRole('button', { name: 'Log out' }).click();
  await g.locator('#auth').waitFor();
  await g.reload();
  await g.locator('#auth').waitFor();
  const me = await fetch(`${suite.server.url}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(me.status, 401);
});

// Issue 17: the display-name field allowed 64 characters, but the server counts 64 bytes, so a
// 22-character Chinese name (66 bytes) passed the form and failed at the server.
browserTest('name fields count UTF-8 bytes, as the server does', async () => {
  const p = await newPage(suite.server.url);
  await p.getByRole('tab', { name: 'Register' }).click();
  const field = p.locator('#form-register').getByLabel('Display name');
  await field.fill('王'.repeat(22));
  assert.equal(await field.evaluate((el) => el.validity.valid), false);
  assert.match(await field.evaluate((el) => el.validationMessage), /64 bytes/);
  await field.fill('王'.repeat(21));
  assert.equal(await field.evaluate((el) => el.validity.valid), true);
  // The form is not sent while the name is too long: no account is made.
  const user = `wang_${RUN}`;
  const form = p.locator('#form-register');
  await form.getByLabel('Username').fill(user);
  await form.getByLabel('Password').fill(PASSWORD);
  await field.fill('王'.repeat(22));
  await form.getByRole('button', { name: 'Create account' }).click();
  await p.waitForTimeout(300);
  assert.equal(await p.locator('#auth').isVisible(), true);
  await field.fill('王'.repeat(21));
  await form.getByRole('button', { name: 'Create account' }).click();
  await online(p);
  assert.equal(await p.locator('#me-name').textContent(), '王'.repeat(21));
});

browserTest('a group of three: create, chat, replies, reactions, edits, read by all, and search', async () => {
  const names = ['dora', 'eli', 'fay'].map((n) => `${n}_${RUN}`);
  const [d, e, f] = await Promise.all(names.map((n) => suite.server.register(n)));
  await suite.server.befriend(d, e);
  await suite.server.befriend(d, f);
  const [pd, pe, pf] = await Promise.all([newPage(suite.server.url), newPage(suite.server.url), newPage(suite.server.url)]);
  await login(pd, names[0]);
  await login(pe, names[1]);
  await login(pf, names[2]);

  await pd.getByRole('tab', { name: 'Groups' }).click();
  const form = pd.locator('#group-form');
  await form.getByLabel('Name').fill(`Trio ${RUN}`);
  await form.getByLabel(names[1]).check();
  await form.getByLabel(names[2]).check();
  await form.getByRole('button', { name: 'Create group' }).click();
  await pd.locator('#chat-title', { hasText: `Trio ${RUN}` }).waitFor();

  await send(pd, `the pineapple plan ${RUN}`);
  for (const p of [pe, pf]) {
    await conv(p, `Trio ${RUN}`).click();
    await expectTexts(p, [`the pineapple plan ${RUN}`]);
  }
  await pd.locator('#messages li.msg.mine .status', { hasText: 'read by 2' }).waitFor();

  // Eli replies to it, mentioning Fay; Fay reacts; Dora edits her message.
  const first = pe.locator('#messages li.msg').first();
  await first.hover();
  await first.getByRole('button', { name: 'Reply' }).click();
  await send(pe, `@${names[2]} count me in`);
  await pf.locator('#messages li.msg.mentioned .quote', { hasText: 'pineapple' }).waitFor();
  const target = pf.locator('#messages li.msg').first();
  await target.hover();
  await target.getByRole('button', { name: 'React 👍' }).click();
  await pd.locator('#messages li.msg').first().locator('.reaction', { hasText: '👍 1' }).waitFor();
  const mine = pd.locator('#messages li.msg.mine').first();
  await mine.hover();
  await mine.getByRole('button', { name: 'Edit' }).click();
  await pd.getByLabel('Message', { exact: true }).fill(`the pineapple plan, revised ${RUN}`);
  await pd.getByLabel('Message', { exact: true }).press('Enter');
  await pe.locator('#messages li.msg').first().locator('.text', { hasText: 'revised' }).waitFor();
  await pe.locator('#messages li.msg').first().locator('.edited').waitFor();

  // Managing the group: the owner sees three members and their roles.
  await pd.getByRole('button', { name: 'Group settings' }).click();
  await pd.locator('#gd-members li.person').nth(2).waitFor();
  assert.equal(await pd.locator('#gd-members li.person').count(), 3);
  await pd.locator('#gd-members .role', { hasText: 'owner' }).waitFor();
  await pd.keyboard.press('Escape');

  // Eli recalls his reply; everyone sees it go.
  await pe.locator('#messages li.msg.mine .text', { hasText: 'count me in' }).waitFor();
  const reply = pe.locator('#messages li.msg.mine').last();
  await reply.hover();
  await reply.getByRole('button', { name: 'Recall' }).click();
  await pd.locator('#messages li.msg.recalled', { hasText: 'This message was recalled.' }).waitFor();

  // Search finds the message, with the word highlighted, and opens it.
  // (The index follows the log asynchronously: search again until the edit is found.)
  const hit = pf.locator('#search-results button.result', { hasText: 'revised' });
  for (let i = 0; ; i++) {
    await pf.getByLabel('Search messages').fill(`pineapple ${RUN}`);
    await pf.getByLabel('Search messages').press('Enter');
    try {
      await hit.waitFor({ timeout: 1000 });
      break;
    } catch (e) {
      if (i >= 10) throw e;
    }
  }
  assert.equal((await hit.locator('mark').first().textContent()).toLowerCase(), 'pineapple');
  await hit.click();
  await pf.locator('#chat-title', { hasText: `Trio ${RUN}` }).waitFor();
});

browserTest('a bot shows as a bot: a badge beside its name in the conversation', async () => {
  const admin = await suite.server.register('webadmin');
  const owner = await suite.server.register(`owen_${RUN}`);
  const pat = await suite.server.register(`pat_${RUN}`);
  await suite.server.befriend(owner, pat);  // the bot needs no friendship; a person may
  const made = await suite.server.api('POST', '/admin/bots', { username: `helper_${RUN}`, display_name: 'Helper' }, admin.token);
  assert.equal(made.user.bot, true);
  const g = await suite.server.api('POST', '/groups', { name: `Bots ${RUN}`, member_ids: [made.user.user_id, pat.user_id] }, owner.token);
  await suite.server.api('POST', `/conversations/${g.group.conversation_id}/messages`,
    { client_msg_id: `bot-${RUN}`, body: { type: 'text', text: 'beep from the bot' } }, made.token);
  await suite.server.api('POST', `/conversations/${g.group.conversation_id}/messages`,
    { client_msg_id: `pat-${RUN}`, body: { type: 'text', text: 'hello bot' } }, pat.token);
  const p = await newPage(suite.server.url);
  await login(p, `owen_${RUN}`);
  await conv(p, `Bots ${RUN}`).click();
  const fromBot = p.locator('#messages li.msg', { hasText: 'beep from the bot' });
  await fromBot.locator('.bot-tag', { hasText: 'bot' }).waitFor();
  // People get no badge.
  const fromPat = p.locator('#messages li.msg', { hasText: 'hello bot' });
  await fromPat.locator('.who').waitFor();
  assert.equal(await fromPat.locator('.bot-tag').count(), 0);
});

browserTest('older history loads on scroll, and the keyboard moves through the list', async () => {
  const [k, l] = await Promise.all([suite.server.register(`kim_${RUN}`), suite.server.register(`lee_${RUN}`)]);
  await suite.server.befriend(k, l);  // members come only from friends
  const made = await suite.server.api('POST', '/groups', { name: `Archive ${RUN}`, member_ids: [l.user_id] }, k.token);
  const cid = made.group.conversation_id;
  for (let i = 1; i <= 120; i++) {
    // The last one mentions Lee: the list shows a mentions badge besides the unread count.
    const body = { type: 'text', text: `history ${i}` };
    if (i === 120) body.mentions = [l.user_id];
    await suite.server.api('POST', `/conversations/${cid}/messages`,
      { client_msg_id: `hist-${RUN}-${i}`, body }, k.token);
  }
  const p = await newPage(suite.server.url);
  await login(p, `lee_${RUN}`);
  await conv(p, `Archive ${RUN}`).locator('.badge.mention', { hasText: '@1' }).waitFor();
  await conv(p, `Archive ${RUN}`).locator('.badge.unread', { hasText: '120' }).waitFor();
  await conv(p, `Archive ${RUN}`).click();
  await p.locator('#messages .text', { hasText: 'history 120' }).waitFor();
  // The list is windowed: scrolling up loads the older pages, and every message shows once, in
  // order, on the way back down.
  const all = await collectTexts(p);
  assert.deepEqual(all, Array.from({ length: 120 }, (_, i) => `history ${i + 1}`));
  await p.locator('#scroller').evaluate((el) => { el.scrollTop = el.scrollHeight; el.dispatchEvent(new Event('scroll')); });

  // Keyboard: arrows move between conversations, Enter opens one; focus stays visible.
  await conv(p, `Archive ${RUN}`).focus();
  await p.keyboard.press('ArrowDown');
  const focused = await p.evaluate(() => document.activeElement.dataset.cid);
  assert.equal(focused, 'world');
  await p.keyboard.press('Enter');
  await p.locator('#chat-title', { hasText: 'World' }).waitFor();
  // In the messages, Up/Down move between them and a focused message shows its actions.
  await p.locator('#scroller').focus();
  await p.keyboard.press('ArrowUp');
  const last = p.locator('#messages li.msg').last();
  assert.equal(await last.evaluate((el) => el === document.activeElement), true);
  await last.getByRole('button', { name: 'Reply' }).waitFor();
  await p.keyboard.press('Alt+K');
  assert.equal(await p.evaluate(() => document.activeElement.id), 'search-input');
});

browserTest('the server restarts mid-conversation and the page recovers without a reload', async () => {
  const durable = new Server({ engine: 'rocksdb' });
  await durable.start();
  try {
    const [g, h] = await Promise.all([durable.register(`gus_${RUN}`), durable.register(`hana_${RUN}`)]);
    await durable.befriend(g, h);
    const pg = await newPage(durable.url);
    const ph = await newPage(durable.url);
    await login(pg, `gus_${RUN}`);
    await login(ph, `hana_${RUN}`);
    await pg.getByRole('tab', { name: /Friends/ }).click();
    await pg.getByRole('button', { name: `Chat with hana_${RUN}` }).click();
    await send(pg, 'before the restart');
    await ph.getByRole('tab', { name: 'Chats' }).click();
    await conv(ph, `gus_${RUN}`).click();
    await expectTexts(ph, ['before the restart']);
    await pg.evaluate(() => { window.noReloadMark = 42; });
    await ph.evaluate(() => { window.noReloadMark = 42; });

    assert.equal(await durable.stop(), 0);
    await pg.locator('#conn-state:not([data-state="open"])').waitFor();
    // A send while the server is down fails visibly, and is retried with the same id later.
    await send(pg, 'sent while the server was down');
    await pg.locator('#messages li.pending .status[data-status="failed"]').waitFor();
    await durable.start();
    await online(pg);
    await online(ph);
    // The failed send goes out again by itself, with the same client_msg_id.
    await pg.locator('#messages li.pending').waitFor({ state: 'detached' });
    await send(pg, 'after the restart');
    await expectTexts(ph, ['before the restart', 'sent while the server was down', 'after the restart']);
    await expectTexts(pg, ['before the restart', 'sent while the server was down', 'after the restart']);
    await send(ph, 'welcome back');
    await expectTexts(pg, ['before the restart', 'sent while the server was down', 'after the restart', 'welcome back']);
    // The server stored each message once: the resend reused its client_msg_id.
    const dmId = `dm:${[g.user_id, h.user_id].sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : 1)).join(':')}`;
    const stored = await durable.api('GET', `/conversations/${dmId}/messages?limit=50`, undefined, g.token);
    assert.deepEqual(stored.messages.map((m) => m.body.text),
      ['before the restart', 'sent while the server was down', 'after the restart', 'welcome back']);
    assert.equal(await pg.evaluate(() => window.noReloadMark), 42);
    assert.equal(await ph.evaluate(() => window.noReloadMark), 42);
  } finally {
    assert.equal(await durable.stop(), 0);
    durable.cleanup();
  }
});

// ---- Web Push (issue 21) ---------------------------------------------------------------
// Web Push against the real server and a fake push service on loopback: the VAPID
// JWT's ES256 signature is verified with node:crypto and every push is decrypted with npm's
// http_ece (the implementation web-push uses), so the server's RFC 8291/8292 code is checked by
// someone else's. Each test uses its own users and endpoints.
//   - the routes: the VAPID key, a subscription's validation, DELETE, a logout taking the
//     session's subscriptions along;
//   - who gets a push: an offline DM peer and an offline mentioned group member do; an online
//     user, a muted conversation and the sender do not; push.preview=false drops the preview;
//   - delivery: a 500 is retried, a 410 removes the subscription, /metrics counts it all;
//   - the browser: the client subscribes (PushManager.subscribe stubbed to answer a
//     subscription on the fake service, with keys made here), the page closes, a DM arrives,
//     and the decrypted push handed to the service worker (CDP ServiceWorker.deliverPushMessage)
//     shows as a notification; a click on it (the worker's notificationclick handler, driven
//     with a NotificationEvent) opens the conversation in a new window when no tab is open, and
//     switches an open tab to it.
describe('Web Push', () => {
  const api = (...args) => suite.server.api(...args);
  let seq = 0;

  async function user(base, displayName) {
    seq += 1;
    return suite.server.register(`${base}${seq}_${RUN}`, displayName);
  }

  async function login(u) {
    const r = await api('POST', '/auth/login', { username: u.username, password: PASSWORD });
    return r.token;
  }

  // What a request answers without throwing: status and JSON.
  async function call(method, p, body, token) {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    const r = await fetch(`${suite.server.url}/api/v1${p}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : null };
  }

  async function dm(from, to, text, extra = {}) {
    const [lo, hi] = [BigInt(from.user_id), BigInt(to.user_id)].sort((a, b) => (a < b ? -1 : 1));
    const cid = `dm:${lo}:${hi}`;
    await api('POST', `/conversations/${cid}/messages`,
      { client_msg_id: crypto.randomUUID(), body: { type: 'text', text, ...extra } }, from.token);
    return cid;
  }

  async function metric(result) {
    const text = await (await fetch(`${suite.server.url}/metrics`)).text();
    const m = new RegExp(`^monochat_push_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  }

  async function until(what, f, ms = WAIT) {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await f();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  // ---- the fake push service -------------------------------------------------------------

  const pushes = [];                 // {name, headers, body}
  const answers = new Map();         // name -> statuses to answer, in order (then 201)
  let service;
  let serviceOrigin;
  let vapidKey;

  before(async () => {
    service = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const name = req.url.replace(/^\/push\//, '');
        const queue = answers.get(name) || [];
        const status = queue.length ? queue.shift() : 201;
        pushes.push({ name, status, headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(status).end();
      });
    });
    await new Promise((r) => service.listen(0, '127.0.0.1', r));
    serviceOrigin = `http://127.0.0.1:${service.address().port}`;
  });

  after(() => new Promise((r) => service.close(r)));

  // A browser's subscription: a fresh P-256 key and auth secret, an endpoint on the service.
  function browserKeys(name) {
    const ecdh = crypto.createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = crypto.randomBytes(16);
    return {
      ecdh,
      auth,
      json: {
        endpoint: `${serviceOrigin}/push/${name}`,
        expirationTime: null,
        keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
      },
    };
  }

  // Checks the request as a push service would (RFC 8292 VAPID, RFC 8030 headers) and decrypts
  // it as the browser would (RFC 8291, with http_ece); answers the payload.
  function open(push, keys) {
    const m = /^vapid t=([^,\s]+), k=([A-Za-z0-9_-]+)$/.exec(push.headers.authorization || '');
    assert.ok(m, `a VAPID Authorization header: ${push.headers.authorization}`);
    assert.equal(m[2], vapidKey, 'k= is the key GET /push/vapid-key gives');
    const [h, c, s] = m[1].split('.');
    const raw = Buffer.from(m[2], 'base64url');
    const pub = crypto.createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') },
      format: 'jwk',
    });
    assert.ok(crypto.verify('sha256', Buffer.from(`${h}.${c}`), { key: pub, dsaEncoding: 'ieee-p1363' },
      Buffer.from(s, 'base64url')), 'the JWT signature verifies with the VAPID key');
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url')), { typ: 'JWT', alg: 'ES256' });
    const claims = JSON.parse(Buffer.from(c, 'base64url'));
    assert.equal(claims.aud, serviceOrigin);
    const now = Date.now() / 1000;
    assert.ok(claims.exp > now && claims.exp <= now + 24 * 3600, `exp within 24 h: ${claims.exp}`);
    assert.match(claims.sub, /^mailto:|^https:/);
    assert.equal(push.headers['content-encoding'], 'aes128gcm');
    assert.equal(push.headers.ttl, '86400');
    const plain = ece.decrypt(push.body, { version: 'aes128gcm', privateKey: keys.ecdh, authSecret: keys.auth.toString('base64url') });
    return JSON.parse(plain.toString('utf8'));
  }

  function pushesTo(name) { return pushes.filter((p) => p.name === name); }

  // ---- the tests -------------------------------------------------------------------------

  test('the VAPID key, subscriptions and their validation, and a logout ending them', async () => {
    const key = await call('GET', '/push/vapid-key');
    assert.equal(key.status, 200);
    vapidKey = key.json.public_key;
    assert.equal(Buffer.from(vapidKey, 'base64url').length, 65);
    assert.equal(Buffer.from(vapidKey, 'base64url')[0], 4);

    const u = await user('pv');
    const k = browserKeys(`valid-${RUN}`);
    assert.equal((await call('POST', '/push/subscriptions', k.json)).status, 401);
    const made = await call('POST', '/push/subscriptions', k.json, u.token);
    assert.equal(made.status, 201);
    assert.equal(made.json.subscription.endpoint, k.json.endpoint);
    // Subscribing again is a replacement, not a second one.
    assert.equal((await call('POST', '/push/subscriptions', k.json, u.token)).status, 201);

    const bad = async (body, why) => {
      const r = await call('POST', '/push/subscriptions', body, u.token);
      assert.equal(r.status, 400, `${why}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.error.code, 'invalid_argument');
    };
    const withKeys = (keys) => ({ endpoint: k.json.endpoint, keys: { ...k.json.keys, ...keys } });
    await bad({ keys: k.json.keys }, 'no endpoint');
    await bad({ endpoint: k.json.endpoint }, 'no keys');
    await bad({ ...k.json, endpoint: 'ftp://127.0.0.1/x' }, 'not http(s)');
    await bad({ ...k.json, endpoint: 'http://10.1.2.3/x' }, 'plain http off loopback');
    await bad({ ...k.json, endpoint: 'https://10.1.2.3/x' }, 'a private address');
    await bad({ ...k.json, endpoint: `https://127.0.0.1/${'x'.repeat(2100)}` }, 'too long');
    await bad(withKeys({ auth: crypto.randomBytes(12).toString('base64url') }), 'auth of 12 bytes');
    await bad(withKeys({ auth: 'not*base64' }), 'auth not base64url');
    await bad(withKeys({ p256dh: crypto.randomBytes(65).toString('base64url') }), 'p256dh off the curve');
    await bad(withKeys({ p256dh: k.json.keys.p256dh.slice(0, 40) }), 'p256dh too short');

    const del = (endpoint, token) => call('DELETE', `/push/subscriptions?endpoint=${encodeURIComponent(endpoint)}`, undefined, token);
    assert.equal((await call('DELETE', '/push/subscriptions', undefined, u.token)).status, 400);
    assert.equal((await del(`${serviceOrigin}/push/never`, u.token)).status, 404);
    assert.equal((await del(k.json.endpoint, u.token)).status, 204);
    assert.equal((await del(k.json.endpoint, u.token)).status, 404);

    // A subscription belongs to its session: a logout takes it along.
    const session = await login(u);
    assert.equal((await call('POST', '/push/subscriptions', k.json, session)).status, 201);
    assert.equal((await call('POST', '/auth/logout', undefined, session)).status, 204);
    assert.equal((await del(k.json.endpoint, u.token)).status, 404);
  });

  test('an offline DM peer gets an encrypted push; online, muted and the sender do not', async () => {
    const alice = await user('pa', 'Alice Push');
    const bob = await user('pb', 'Bob');
    await suite.server.befriend(alice, bob);
    const kb = browserKeys(`bob-${RUN}`);
    const ka = browserKeys(`alice-${RUN}`);
    await api('POST', '/push/subscriptions', kb.json, bob.token);
    await api('POST', '/push/subscriptions', ka.json, alice.token);

    const long = 'é'.repeat(150);
    const cid = await dm(alice, bob, long);
    const first = await until('the push to bob', () => pushesTo(kb.json.endpoint.split('/push/')[1])[0]);
    const p = open(first, kb);
    assert.equal(p.conversation_id, cid);
    assert.equal(p.sender_id, alice.user_id);
    assert.equal(p.sender_name, 'Alice Push');
    assert.equal(p.seq, 1);
    assert.equal(p.mention, false);
    assert.equal(p.preview, `${'é'.repeat(100)}…`);

    // Online: bob's WebSocket is open, so the message reaches him there and nowhere else.
    // (Node 20 has no WebSocket: a browser page that does not run the client holds it.)
    const context = await suite.browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${suite.server.url}/favicon.svg`);
      await page.evaluate((token) => new Promise((resolve, reject) => {
        const ws = new WebSocket(`${location.origin.replace('http', 'ws')}/api/v1/ws`, ['monochat.v1', `monochat.token.${token}`]);
        window.frames_seen = [];
        ws.onmessage = (ev) => {
          const f = JSON.parse(ev.data);
          window.frames_seen.push(f.type);
          if (f.type === 'hello') resolve();
        };
        ws.onerror = () => reject(new Error('no WebSocket'));
        window.held = ws;
      }), bob.token);
      await dm(alice, bob, 'while online');
      // The message reached the socket before the close: the server saw bob online when it
      // committed.
      await page.waitForFunction(() => window.frames_seen.includes('message'));
    } finally {
      await context.close();
    }
    await until('bob offline', async () => !(await api('GET', `/users/${bob.user_id}`, undefined, alice.token)).user.online);
    // Muted: nothing either.
    await api('PATCH', `/conversations/${cid}`, { muted_until: Date.now() + 3600000 }, bob.token);
    await dm(alice, bob, 'while muted');
    await api('PATCH', `/conversations/${cid}`, { muted_until: 0 }, bob.token);
    await dm(alice, bob, 'marker');
    const bobs = await until('the marker', () => {
      const got = pushesTo(kb.json.endpoint.split('/push/')[1]);
      return got.length >= 2 && got;
    });
    // Pushes of one endpoint go out in commit order: the marker is the second and the last.
    await new Promise((r) => setTimeout(r, 200));
    const texts = pushesTo(kb.json.endpoint.split('/push/')[1]).map((x) => open(x, kb).preview);
    assert.deepEqual(texts, [p.preview, 'marker']);
    assert.equal(bobs.length, 2);
    // Alice sent everything: she got nothing.
    assert.equal(pushesTo(ka.json.endpoint.split('/push/')[1]).length, 0);
  });

  test('a mentioned group member gets a push; push.preview=false drops the preview', async () => {
    // `webadmin` (an admin in the suite's config) may be registered by an earlier test already.
    const admin = await api('POST', '/auth/register', { username: 'webadmin', password: PASSWORD })
      .catch(() => api('POST', '/auth/login', { username: 'webadmin', password: PASSWORD }));
    const owner = await user('po', 'Owner');
    const member = await user('pm');
    const other = await user('pn');
    await suite.server.befriend(owner, member);
    await suite.server.befriend(owner, other);
    const g = await api('POST', '/groups', { name: `push ${RUN}` }, owner.token);
    const gid = g.group.group_id;
    await api('POST', `/groups/${gid}/members`, { user_ids: [member.user_id, other.user_id] }, owner.token);
    const km = browserKeys(`member-${RUN}`);
    const ko = browserKeys(`other-${RUN}`);
    await api('POST', '/push/subscriptions', km.json, member.token);
    await api('POST', '/push/subscriptions', ko.json, other.token);

    await api('POST', `/conversations/group:${gid}/messages`, {
      client_msg_id: crypto.randomUUID(),
      body: { type: 'text', text: 'hey you', mentions: [member.user_id] },
    }, owner.token);
    const got = await until('the mention push', () => pushesTo(`member-${RUN}`)[0]);
    const p = open(got, km);
    assert.equal(p.conversation_id, `group:${gid}`);
    assert.equal(p.mention, true);
    assert.equal(p.preview, 'hey you');
    assert.equal(p.sender_name, 'Owner');

    // The preview off (a live setting), and the one not mentioned got nothing all along.
    assert.ok(admin, 'webadmin registered');
    await api('PATCH', '/admin/settings', { 'push.preview': false }, admin.token);
    try {
      await api('POST', `/conversations/group:${gid}/messages`, {
        client_msg_id: crypto.randomUUID(),
        body: { type: 'text', text: 'secret words', mentions: [member.user_id] },
      }, owner.token);
      const second = await until('the second mention push', () => pushesTo(`member-${RUN}`)[1]);
      const q = open(second, km);
      assert.equal(q.preview, undefined);
      assert.equal(q.sender_name, 'Owner');
    } finally {
      await api('PATCH', '/admin/settings', { 'push.preview': true }, admin.token);
    }
    assert.equal(pushesTo(`other-${RUN}`).length, 0);
  });

  test('a 500 is retried, a 410 removes the subscription, and /metrics counts both', async () => {
    const a = await user('pr');
    const b = await user('ps');
    await suite.server.befriend(a, b);
    const kb = browserKeys(`flaky-${RUN}`);
    await api('POST', '/push/subscriptions', kb.json, b.token);
    const [sent0, failed0, removed0] = [await metric('sent'), await metric('failed'), await metric('removed')];

    answers.set(`flaky-${RUN}`, [500]);
    await dm(a, b, 'try again');
    const ok = await until('the retried push', () => pushesTo(`flaky-${RUN}`).find((x) => x.status === 201));
    assert.equal(open(ok, kb).preview, 'try again');
    assert.equal(pushesTo(`flaky-${RUN}`).length, 2);
    assert.ok(await metric('failed') >= failed0 + 1);
    assert.ok(await metric('sent') >= sent0 + 1);

    answers.set(`flaky-${RUN}`, [410]);
    await dm(a, b, 'gone');
    await until('the 410', () => pushesTo(`flaky-${RUN}`).length === 3);
    await until('the removal counted', async () => (await metric('removed')) >= removed0 + 1);
    const del = await call('DELETE', `/push/subscriptions?endpoint=${encodeURIComponent(kb.json.endpoint)}`, undefined, b.token);
    assert.equal(del.status, 404, 'the subscription is gone');
    await dm(a, b, 'after the 410');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(pushesTo(`flaky-${RUN}`).length, 3, 'nothing more goes to a removed subscription');
  });

  browserTest('the client subscribes, the page closes, and a DM becomes a notification of the service worker', async () => {
    const base = suite.server.url;
    const sender = await user('pw', 'Wendy');
    const name = `client-${RUN}`;
    const k = browserKeys(name);
    // The browser's push service is out of reach here: PushManager answers a subscription on the
    // fake service, with the keys made above (their private half stays in this test).
    const stub = ({ sub }) => {
      let current = null;
      const make = () => ({
        endpoint: sub.endpoint,
        expirationTime: null,
        toJSON: () => sub,
        unsubscribe: async () => { current = null; return true; },
      });
      PushManager.prototype.subscribe = async function subscribe() { current = make(); return current; };
      PushManager.prototype.getSubscription = async function getSubscription() { return current; };
    };
    const page = await newPage(base, { init: `(${stub})(${JSON.stringify({ sub: k.json })})` });
    await page.context().grantPermissions(['notifications'], { origin: base });
    seq += 1;
    const username = `pc${seq}_${RUN}`;
    await register(page, username, 'Carol');
    const me = await page.evaluate(() => window.monochat.store.me);
    await suite.server.befriend(sender, { user_id: me.user_id, token: await page.evaluate(() => localStorage.getItem('monochat.token')) });

    await page.locator('#settings').click();
    await page.locator('#set-push').check();
    await page.locator('#set-push:checked:enabled').waitFor();
    assert.equal(await page.locator('#set-push-note').textContent(), '');

    // A page of the origin that does not run the client (so nobody is online) keeps a CDP
    // session to the service worker.
    const context = page.context();
    const probe = await context.newPage();
    await probe.goto(`${base}/favicon.svg`);
    const cdp = await context.newCDPSession(probe);
    const registrations = [];
    const versions = [];
    cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => registrations.push(...e.registrations));
    cdp.on('ServiceWorker.workerVersionUpdated', (e) => versions.push(...e.versions));
    await cdp.send('ServiceWorker.enable');
    await page.close();
    await until('carol offline', async () => !(await api('GET', `/users/${me.user_id}`, undefined, sender.token)).user.online);

    await dm(sender, me, 'are you there?');
    const push = await until('the push', () => pushesTo(name)[0]);
    const payload = open(push, k);
    assert.equal(payload.preview, 'are you there?');
    const reg = await until('the registration', () => registrations.find((r) => r.scopeURL === `${base}/` && !r.isDeleted));
    // A push delivered while the worker is still installing is dropped: wait until a version
    // of the registration is active (a busy machine got there after the delivery once).
    await until('an active worker', () => versions.find((v) => v.registrationId === reg.registrationId && v.status === 'activated'));
    await cdp.send('ServiceWorker.deliverPushMessage', {
      origin: base, registrationId: reg.registrationId, data: JSON.stringify(payload),
    });
    const shown = await until('the notification', () => probe.evaluate(async () => {
      const r = await navigator.serviceWorker.getRegistration('/');
      const list = r ? await r.getNotifications() : [];
      return list.length ? list.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data })) : null;
    }));
    assert.deepEqual(shown, [{ title: 'Wendy', body: 'are you there?', tag: payload.conversation_id,
      data: { conversation_id: payload.conversation_id } }]);

    // The click, through the service worker's own notificationclick handler: the OS notification
    // cannot be clicked here, so the test dispatches a NotificationEvent for the notification in
    // the worker and waits for what the handler does. Chromium lets only a click it dispatched
    // itself open or focus a window (a synthetic event gets "Not allowed to ..."), so the
    // worker's openWindow and focus are wrapped to record their calls; the opening is then done
    // by the test, as the browser would, at the address the handler asked for.
    const click = (cidToShow) => sw.evaluate(async (again) => {
      const seen = { opened: [], focused: [] };
      const open = self.clients.openWindow;
      const focus = WindowClient.prototype.focus;
      self.clients.openWindow = (url) => { seen.opened.push(url); return open.call(self.clients, url).catch(() => null); };
      WindowClient.prototype.focus = function f() { seen.focused.push(new URL(this.url).pathname); return focus.call(this); };
      try {
        if (again) {
          await self.registration.showNotification('Wendy', { body: 'again', tag: again, data: { conversation_id: again } });
        }
        const [notification] = await self.registration.getNotifications();
        const event = new NotificationEvent('notificationclick', { notification });
        let handled = Promise.resolve();
        event.waitUntil = (p) => { handled = p; };
        self.dispatchEvent(event);
        await handled;
        seen.left = (await self.registration.getNotifications()).length;
        return seen;
      } finally {
        delete self.clients.openWindow;
        WindowClient.prototype.focus = focus;
      }
    }, cidToShow);
    await probe.close();  // no window of the origin is left
    const sw = context.serviceWorkers().find((w) => w.url() === `${base}/sw.js`)
      || await context.waitForEvent('serviceworker', (w) => w.url() === `${base}/sw.js`);
    // With no tab open: a new window at the conversation, where the client opens the DM.
    const closed = await click(null);
    assert.deepEqual(closed, { opened: [`/#c=${encodeURIComponent(payload.conversation_id)}`], focused: [], left: 0 });
    const opened = await context.newPage();
    opened.setDefaultTimeout(WAIT);
    opened.on('pageerror', (e) => { opened.errors = [...(opened.errors || []), e]; });
    await opened.goto(`${base}${closed.opened[0]}`);
    await opened.locator('#chat-title', { hasText: 'Wendy' }).waitFor();
    await expectTexts(opened, ['are you there?']);
    assert.equal(new URL(opened.url()).hash, '', 'the address no longer names the conversation');
    // With a tab open on another conversation: that tab is focused and switches to the DM.
    await opened.locator('#conv-list button.conv').filter({ hasNotText: 'Wendy' }).first().click();
    await opened.waitForFunction(() => document.getElementById('chat-title').textContent !== 'Wendy');
    const inTab = await click(payload.conversation_id);
    assert.deepEqual(inTab, { opened: [], focused: ['/'], left: 0 });
    await opened.locator('#chat-title', { hasText: 'Wendy' }).waitFor();
    await expectTexts(opened, ['are you there?']);
    assert.deepEqual(opened.errors || [], []);
  });
});
