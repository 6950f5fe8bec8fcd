// Browser tests of the built-in web client (issue 9): the real monochat binary serves the
// client, and Playwright drives Debian's chromium headless through it as people would.
// Screenshots of every open page are saved into $MONOCHAT_BROWSER_OUT when a test fails.
// The harness (browser, server, helpers) is harness.mjs; issue 19's tests are web19.test.mjs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
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
