// Browser tests of the built-in web client (issue 9): the real monochat binary serves the
// client, and Playwright drives Debian's chromium headless through it as people would.
// Screenshots of every open page are saved into $MONOCHAT_BROWSER_OUT when a test fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Server } from './server.mjs';

const OUT = process.env.MONOCHAT_BROWSER_OUT || path.resolve('out');
fs.mkdirSync(OUT, { recursive: true });
const RUN = Date.now().toString(36).slice(-5);
const PASSWORD = 'correct horse battery';
const WAIT = 15000;

let browser;
let server;
const pages = new Set();

function chromiumPath() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  // Debian's /usr/bin/chromium is a shell wrapper; Playwright wants the real binary.
  for (const p of ['/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (fs.existsSync(p)) return p;
  }
  throw new Error('chromium is not installed (scripts/deps.sh --test installs it)');
}

before(async () => {
  // No background traffic: this machine's network is closed, and refused connections slow
  // Chromium down.
  const args = ['--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
                '--disable-background-networking', '--disable-component-update', '--disable-sync'];
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
  browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args });
  server = new Server();
  await server.start();
});

after(async () => {
  if (browser) await browser.close();
  if (server) {
    const code = await server.stop();
    server.cleanup();
    assert.equal(code, 0, 'monochat exits 0 on SIGTERM');
  }
});

async function newPage(base, { phone = false } = {}) {
  const context = await browser.newContext(phone
    ? { viewport: { width: 390, height: 780 }, isMobile: true, hasTouch: true }
    : { viewport: { width: 1200, height: 780 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('dialog', (d) => d.accept());
  page.on('pageerror', (e) => { page.errors = [...(page.errors || []), e]; });
  pages.add(page);
  await page.goto(base);
  return page;
}

// Runs a test body; on failure, saves a screenshot of every open page.
function browserTest(name, body) {
  test(name, async () => {
    try {
      await body();
      for (const p of pages) assert.deepEqual(p.errors || [], [], 'no uncaught errors in the page');
    } catch (e) {
      let i = 0;
      for (const p of pages) {
        const file = path.join(OUT, `failure-${name.replace(/[^a-z0-9]+/gi, '-')}-${i++}.png`);
        await p.screenshot({ path: file, fullPage: true }).catch(() => {});
        console.error(`screenshot: ${file}`);
      }
      throw e;
    } finally {
      for (const p of pages) await p.context().close().catch(() => {});
      pages.clear();
    }
  });
}

async function online(page) {
  await page.locator('#conn-state[data-state="open"]').waitFor();
}

async function register(page, username, displayName) {
  await page.getByRole('tab', { name: 'Register' }).click();
  const form = page.locator('#form-register');
  await form.getByLabel('Username').fill(username);
  if (displayName) await form.getByLabel('Display name').fill(displayName);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Create account' }).click();
  await online(page);
}

async function login(page, username) {
  const form = page.locator('#form-login');
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Log in' }).click();
  await online(page);
}

async function send(page, text) {
  const box = page.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
}

function texts(page) {
  return page.locator('#messages li.msg:not(.pending) .text').allTextContents();
}

async function expectTexts(page, want) {
  const deadline = Date.now() + WAIT;
  let got;
  for (;;) {
    got = await texts(page);
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    if (Date.now() > deadline) break;
    await page.waitForTimeout(100);
  }
  assert.deepEqual(got, want);
}

function conv(page, title) {
  return page.locator('#conv-list button.conv', { has: page.locator('.conv-title', { hasText: title }) });
}

browserTest('the binary serves the client, and API paths stay JSON', async () => {
  const index = await fetch(`${server.url}/`);
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type'), /^text\/html/);
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  const etag = index.headers.get('etag');
  assert.ok(etag);
  const again = await fetch(`${server.url}/`, { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  const js = await fetch(`${server.url}/js/main.js`);
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  assert.equal((await fetch(`${server.url}/nope.html`)).status, 404);
  assert.equal((await fetch(`${server.url}/..%2f..%2fetc/passwd`)).status, 404);
  const api = await fetch(`${server.url}/api/v1/nope`);
  assert.equal(api.status, 404);
  assert.match(api.headers.get('content-type'), /application\/json/);
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
});

browserTest('two friends chat: typing, read receipts, and an offline gap filled once and in order', async () => {
  const alice = `alice_${RUN}`;
  const bob = `bob_${RUN}`;
  const a = await newPage(server.url);
  const b = await newPage(server.url);
  await register(a, alice, 'Alice');
  await register(b, bob, 'Bob');

  // Alice finds Bob and asks; Bob accepts; both see each other as friends.
  await a.getByRole('tab', { name: /Friends/ }).click();
  await a.getByLabel('Find people by username').fill(bob.slice(0, 5));
  await a.getByRole('button', { name: 'Find', exact: true }).click();
  await a.getByRole('button', { name: `Add ${bob} as a friend` }).click();
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
  const g = await newPage(server.url, { phone: true });
  await g.getByRole('tab', { name: 'Guest' }).click();
  await g.locator('#form-guest').getByLabel('Display name').fill('Wanderer');
  await g.getByRole('button', { name: 'Continue as guest' }).click();
  await online(g);
  // Phone layout: the list first, then the chat with a back button.
  assert.equal(await g.locator('#chat').isVisible(), false);
  await conv(g, 'World').click();
  assert.equal(await g.locator('#sidebar').isVisible(), false);
  await g.getByRole('button', { name: 'Back to conversations' }).waitFor();

  const r = await newPage(server.url);
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
  const me = await fetch(`${server.url}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(me.status, 401);
});

// Issue 17: the display-name field allowed 64 characters, but the server counts 64 bytes, so a
// 22-character Chinese name (66 bytes) passed the form and failed at the server.
browserTest('name fields count UTF-8 bytes, as the server does', async () => {
  const p = await newPage(server.url);
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
  const [d, e, f] = await Promise.all(names.map((n) => server.register(n)));
  await server.befriend(d, e);
  await server.befriend(d, f);
  const [pd, pe, pf] = await Promise.all([newPage(server.url), newPage(server.url), newPage(server.url)]);
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

  // The documentation's screenshot: Dora's desktop view of the group.
  await pd.locator('#messages li.msg').nth(1).waitFor();
  await pd.evaluate(() => document.getElementById('toast').classList.remove('show'));
  await pd.screenshot({ path: path.join(OUT, 'client.png') });
  if (process.env.MONOCHAT_DOC_SCREENSHOT) {
    fs.copyFileSync(path.join(OUT, 'client.png'), process.env.MONOCHAT_DOC_SCREENSHOT);
  }

  // Managing the group: the owner sees three members and their roles.
  await pd.getByRole('button', { name: 'Members' }).click();
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

browserTest('older history loads on scroll, and the keyboard moves through the list', async () => {
  const [k, l] = await Promise.all([server.register(`kim_${RUN}`), server.register(`lee_${RUN}`)]);
  const made = await server.api('POST', '/groups', { name: `Archive ${RUN}`, member_ids: [l.user_id] }, k.token);
  const cid = made.group.conversation_id;
  for (let i = 1; i <= 120; i++) {
    // The last one mentions Lee: the list shows a mentions badge besides the unread count.
    const body = { type: 'text', text: `history ${i}` };
    if (i === 120) body.mentions = [l.user_id];
    await server.api('POST', `/conversations/${cid}/messages`,
      { client_msg_id: `hist-${RUN}-${i}`, body }, k.token);
  }
  const p = await newPage(server.url);
  await login(p, `lee_${RUN}`);
  await conv(p, `Archive ${RUN}`).locator('.badge.mention', { hasText: '@1' }).waitFor();
  await conv(p, `Archive ${RUN}`).locator('.badge.unread', { hasText: '120' }).waitFor();
  await conv(p, `Archive ${RUN}`).click();
  await p.locator('#messages .text', { hasText: 'history 120' }).waitFor();
  assert.equal((await texts(p)).length, 50, 'the first page holds 50 messages');
  for (let i = 0; i < 10 && !(await p.locator('#older-state', { hasText: 'beginning' }).isVisible()); i++) {
    await p.locator('#scroller').evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
    await p.waitForTimeout(300);
  }
  const all = await texts(p);
  assert.deepEqual(all, Array.from({ length: 120 }, (_, i) => `history ${i + 1}`));

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
