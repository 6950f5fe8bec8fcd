// Browser tests of issue 19: the web client's eight bugs (each test fails without its fix),
// reading a conversation, staying informed, the quality bars (axe-core, contrast, the windowed
// list measured with 5,000 messages) and the documentation's screenshots.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import {
  OUT, RUN, PASSWORD, WAIT, browserTest, newPage, online, login, send, expectTexts, conv,
  setupSuite, scrollThrough,
} from './harness.mjs';

const suite = setupSuite();
const require = createRequire(import.meta.url);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let seq = 0;
function uname(base) { seq += 1; return `${base}${seq}_${RUN}`; }

async function user(base, displayName) {
  const username = uname(base);
  return suite.server.register(username, displayName || username);
}

function dmOf(a, b) {
  return `dm:${[a.user_id, b.user_id].sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : 1)).join(':')}`;
}

let cmid = 0;
async function post(from, cid, text, extra = {}) {
  cmid += 1;
  const r = await suite.server.api('POST', `/conversations/${encodeURIComponent(cid)}/messages`,
    { client_msg_id: `w19-${RUN}-${cmid}`, body: { type: 'text', text, ...extra } }, from.token);
  return r.message;
}

async function group(owner, name, members = [], isPublic = false) {
  // Members come only from the owner's friends (contract v1.1); a 409 means friends already.
  for (const m of members) {
    try { await suite.server.befriend(owner, m); } catch (e) { if (!/: 409 /.test(e.message)) throw e; }
  }
  const r = await suite.server.api('POST', '/groups', { name, member_ids: members.map((m) => m.user_id), public: isPublic }, owner.token);
  return r.group;
}

async function readersOf(u, cid, s) {
  return suite.server.api('GET', `/conversations/${encodeURIComponent(cid)}/messages/${s}/readers`, undefined, u.token);
}

// Polls `fn` until it answers true (or fails the test after `ms`).
async function until(fn, what, ms = WAIT) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function scrollTo(page, where) {
  await page.locator('#scroller').evaluate((el, w) => {
    el.scrollTop = w === 'top' ? 0 : w === 'bottom' ? el.scrollHeight : w;
    el.dispatchEvent(new Event('scroll'));
  }, where);
}

// ---------------------------------------------------------------------------------------------
// The eight bugs

browserTest('bug 1: what arrives before the first WebSocket is up is shown once it is', async () => {
  const u = await user('una', 'Una');
  const f = await user('fred', 'Fred');
  await suite.server.befriend(u, f);
  await post(f, dmOf(u, f), 'old news');
  const pf = await newPage(suite.server.url);
  const p = await newPage(suite.server.url);
  // The first WebSocket reaches the server only after 3 s and after what the test does in the
  // meantime (so that a slow machine cannot close the window early).
  let release;
  const held = Promise.all([sleep(3000), new Promise((r) => { release = r; })]);
  let first = true;
  await p.routeWebSocket(/\/api\/v1\/ws/, async (ws) => {
    if (first) {
      first = false;
      await held;
    }
    ws.connectToServer();
  });
  const form = p.locator('#form-login');
  await form.getByLabel('Username').fill(u.username);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Log in' }).click();
  await conv(p, 'Fred').waitFor();
  await p.waitForFunction(() => /beginning|older|hello/.test(document.getElementById('older-state').textContent));
  // Inside the window: a direct message, a world post, and Fred comes online.
  await post(f, dmOf(u, f), 'sent while you were connecting');
  await post(f, 'world', `world post while connecting ${RUN}`);
  await login(pf, f.username);
  assert.notEqual(await p.locator('#conn-state').getAttribute('data-state'), 'open');
  release();
  await online(p);
  const row = conv(p, 'Fred');
  await row.locator('.conv-last', { hasText: 'sent while you were connecting' }).waitFor({ timeout: 5000 });
  await row.locator('.badge.unread', { hasText: '2' }).waitFor({ timeout: 5000 });
  await p.locator('#messages .text', { hasText: `world post while connecting ${RUN}` }).waitFor({ timeout: 5000 });
  await row.locator('.dot.on').waitFor({ timeout: 5000 });
});

browserTest('bug 2: after a reload, receipts of older messages come from read positions', async () => {
  const a = await user('ann', 'Ann');
  const b = await user('ben', 'Ben');
  await suite.server.befriend(a, b);
  const dm = dmOf(a, b);
  for (let i = 1; i <= 3; i++) await post(a, dm, `from ann ${i}`);
  for (let i = 1; i <= 60; i++) await post(b, dm, `from ben ${i}`);
  const p = await newPage(suite.server.url);
  await login(p, a.username);
  await p.reload();
  await online(p);
  await conv(p, 'Ben').click();
  await p.locator('#messages .text', { hasText: 'from ben 60' }).waitFor();
  // Ann's own messages are older than the first page: scroll up to them.
  for (let i = 0; i < 20 && !(await p.locator('#messages li.msg.mine').count()); i++) {
    await scrollTo(p, 'top');
    await p.waitForTimeout(200);
  }
  const mine = p.locator('#messages li.msg.mine');
  await mine.first().waitFor();
  for (let i = 0; i < 3; i++) await mine.nth(i).locator('.status[data-status="read"]').waitFor();
  assert.equal(await p.locator('#messages li.msg.mine .status[data-status="sent"]').count(), 0);
});

browserTest('bug 3: nothing is marked read while scrolled up; a "new" button leads down', async () => {
  const a = await user('cat', 'Cat');
  const b = await user('dan', 'Dan');
  await suite.server.befriend(a, b);
  const dm = dmOf(a, b);
  for (let i = 1; i <= 80; i++) await post(b, dm, `line ${i}`);
  const p = await newPage(suite.server.url);
  await login(p, a.username);
  await conv(p, 'Dan').click();
  await p.locator('#messages .text', { hasText: 'line 80' }).waitFor();
  await until(async () => (await readersOf(b, dm, 80)).read_by.includes(a.user_id), 'Cat reading line 80');
  // Cat scrolls 40 messages up; Dan writes.
  await scrollTo(p, 'top');
  await p.waitForTimeout(500);
  assert.equal(await p.locator('#messages .text', { hasText: /^line 80$/ }).count(), 0, 'line 80 is out of view');
  const m = await post(b, dm, 'are you there?');
  await p.locator('#new-messages:not([hidden])', { hasText: '1 new' }).waitFor();
  await p.waitForTimeout(1200);
  assert.equal((await readersOf(b, dm, m.seq)).read_by.includes(a.user_id), false, 'not read while scrolled up');
  // A hidden tab marks nothing read either, even at the bottom.
  await p.getByRole('button', { name: /new message/ }).click();
  await p.locator('#messages .text', { hasText: 'are you there?' }).waitFor();
  await until(async () => (await readersOf(b, dm, m.seq)).read_by.includes(a.user_id), 'read at the bottom');
  assert.equal(await p.locator('#new-messages').isHidden(), true);
  await p.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  const m2 = await post(b, dm, 'hidden tab');
  await p.locator('#messages .text', { hasText: 'hidden tab' }).waitFor();
  await p.waitForTimeout(1000);
  assert.equal((await readersOf(b, dm, m2.seq)).read_by.includes(a.user_id), false, 'not read while hidden');
});

browserTest('bug 4: the typing line goes when that person\'s message arrives', async () => {
  const a = await user('eve', 'Eve');
  const b = await user('finn', 'Finn');
  await suite.server.befriend(a, b);
  await post(a, dmOf(a, b), 'hi');
  const [pa, pb] = [await newPage(suite.server.url), await newPage(suite.server.url)];
  await login(pa, a.username);
  await login(pb, b.username);
  await conv(pa, 'Finn').click();
  await conv(pb, 'Eve').click();
  await pb.getByLabel('Message', { exact: true }).pressSequentially('typing a reply');
  await pa.locator('#typing', { hasText: 'Finn is typing' }).waitFor();
  await pb.getByLabel('Message', { exact: true }).press('Enter');
  await pa.locator('#messages .text', { hasText: 'typing a reply' }).waitFor();
  await pa.locator('#typing:text-is("")').waitFor({ timeout: 1000 });
});

browserTest('bug 5: a friend request\'s toast names the person', async () => {
  const a = await user('gil', 'Gil');
  const b = await user('hal', 'Hal Jordan');
  const p = await newPage(suite.server.url);
  await login(p, a.username);
  await suite.server.api('POST', '/friends/requests', { user_id: a.user_id }, b.token);
  await p.locator('#toast.show', { hasText: 'Hal Jordan sent you a friend request.' }).waitFor();
});

browserTest('bug 6: the members dialog: own presence, "1 member", no Leave for the owner', async () => {
  const a = await user('ida', 'Ida');
  const g = await group(a, `Solo ${RUN}`);
  const p = await newPage(suite.server.url);
  await login(p, a.username);
  await conv(p, g.name).click();
  await p.getByRole('button', { name: 'Group settings' }).click();
  await p.locator('#gd-members li.person').first().waitFor();
  assert.match(await p.locator('#gd-info').textContent(), /^1 member ·/);
  await p.locator('#gd-members li.person', { hasText: '(you)' }).locator('.dot.on').waitFor();
  assert.equal(await p.getByRole('button', { name: 'Leave group' }).isVisible(), false);
  await p.locator('#gd-owner-note').waitFor();
});

browserTest('bug 7: @ suggests the conversation\'s members by display name and username', async () => {
  const a = await user('jo', 'Jo');
  const z = await user('zq', 'Zoe Quinn');
  const y = await user('yy', 'Yuri');
  await suite.server.befriend(a, z);
  await suite.server.befriend(a, y);
  const g = await group(a, `Mentions ${RUN}`, [z, y]);
  const p = await newPage(suite.server.url);
  await login(p, a.username);
  await conv(p, g.name).click();
  const box = p.getByLabel('Message', { exact: true });
  await box.pressSequentially('hello @qui');
  const option = p.getByRole('option', { name: /Zoe Quinn/ });
  await option.waitFor();
  assert.equal(await p.getByRole('option').count(), 1);
  await box.press('Enter');
  assert.equal(await box.inputValue(), `hello @${z.username} `);
  // By username too, and the arrows pick among several.
  await box.pressSequentially('and @');
  await p.getByRole('option').nth(1).waitFor();
  await box.pressSequentially(y.username.slice(0, 2));
  await p.getByRole('option', { name: /Yuri/ }).waitFor();
  await box.press('Tab');
  await box.pressSequentially('!');
  await box.press('Enter');
  await p.locator('#messages li.msg.mine:not(.pending) .mention', { hasText: `@${z.username}` }).waitFor();
  const h = await suite.server.api('GET', `/conversations/${g.conversation_id}/messages?limit=5`, undefined, a.token);
  const last = h.messages[h.messages.length - 1];
  assert.equal(last.body.text, `hello @${z.username} and @${y.username} !`);
  assert.deepEqual([...last.body.mentions].sort(), [z.user_id, y.user_id].sort());
});

browserTest('bug 8: icons are SVG, never emoji characters', async () => {
  const a = await user('kai', 'Kai');
  const p = await newPage(suite.server.url);
  await login(p, a.username);
  await conv(p, 'World').locator('.avatar svg').waitFor();
  const emoji = /\p{Extended_Pictographic}/u;
  const iconTexts = await p.$$eval('.avatar, .icon-button, #send, #back, #mute, #new-messages, #conv-list .dot',
    (els) => els.map((el) => el.textContent));
  for (const t of iconTexts) assert.doesNotMatch(t, emoji, `icon text ${JSON.stringify(t)}`);
  assert.ok(await p.locator('#chat-avatar svg').count() >= 1);
});

// ---------------------------------------------------------------------------------------------
// Reading a conversation

browserTest('reading: grouping, days, the unread divider, steady bubbles, avatars, safe links', async () => {
  const a = await user('lia', 'Lia');
  const b = await user('max', 'Max Power');
  await suite.server.befriend(a, b);
  const dm = dmOf(a, b);
  for (let i = 1; i <= 3; i++) await post(b, dm, `burst ${i}`);
  await suite.server.api('POST', `/conversations/${dm}/read`, { seq: 3 }, a.token);
  await post(b, dm, 'after you left');
  await post(b, dm, 'links: https://example.com/a?b=1, javascript:alert(1) https://exаmple.com/x and https://bank.example@evil.example/');
  const p = await newPage(suite.server.url);
  await login(p, a.username);
  await conv(p, 'Max Power').click();
  await p.locator('#messages .text', { hasText: 'links:' }).waitFor();
  // One name and time for the burst; the rest grouped under it.
  const burst = p.locator('#messages li.msg', { hasText: 'burst' });
  assert.equal(await burst.count(), 3);
  assert.equal(await burst.nth(0).locator('.meta .who').count(), 1);
  assert.equal(await burst.nth(1).locator('.meta').count(), 0);
  assert.equal(await burst.nth(2).evaluate((el) => el.classList.contains('grouped')), true);
  // A day separator, and the unread divider where Lia left off (after seq 3).
  await p.locator('#messages li.sep.day', { hasText: 'Today' }).waitFor();
  const order = await p.$$eval('#messages > li', (els) => els.map((el) => el.dataset.seq || el.className));
  assert.equal(order[order.indexOf('4') - 1], 'sep unread-divider');
  const labels = await p.evaluate(async () => {
    const { dayLabel } = await import('/js/dom.js');
    const now = new Date(2026, 5, 15, 12);
    return [dayLabel(new Date(2026, 5, 15, 1).getTime(), now), dayLabel(new Date(2026, 5, 14, 23).getTime(), now),
      dayLabel(new Date(2026, 5, 10).getTime(), now), dayLabel(new Date(2025, 0, 2).getTime(), now)];
  });
  assert.deepEqual(labels.slice(0, 2), ['Today', 'Yesterday']);
  assert.match(labels[2], /June 10/);
  assert.match(labels[3], /2025/);
  // Hovering shows the actions without changing the bubble's size.
  const bubble = burst.nth(1).locator('.bubble');
  const before = await bubble.boundingBox();
  await burst.nth(1).hover();
  await burst.nth(1).getByRole('button', { name: 'Reply' }).waitFor();
  assert.deepEqual(await bubble.boundingBox(), before);
  // Avatars: initials on the sender's colour.
  const av = burst.nth(0).locator('.avatar');
  assert.equal(await av.textContent(), 'MP');
  const colour = await av.evaluate((el) => getComputedStyle(el).backgroundColor);
  assert.equal(await p.locator('#messages li.msg', { hasText: 'after you left' }).locator('.avatar').evaluate((el) => getComputedStyle(el).backgroundColor), colour);
  // Links: http(s) only, new tab, no opener or referrer, look-alikes shown in punycode.
  const links = p.locator('#messages li.msg', { hasText: 'links:' }).locator('a');
  assert.equal(await links.count(), 2);
  assert.equal(await links.nth(0).getAttribute('href'), 'https://example.com/a?b=1');
  assert.equal(await links.nth(0).getAttribute('target'), '_blank');
  assert.equal(await links.nth(0).getAttribute('rel'), 'noopener noreferrer');
  assert.match(await links.nth(1).getAttribute('href'), /^https:\/\/xn--/);
  assert.equal(await links.nth(1).textContent(), await links.nth(1).getAttribute('href'));
  assert.equal(await p.locator('#messages a[href^="javascript"]').count(), 0);
  assert.equal(await p.locator('#messages a[href*="evil"]').count(), 0);
  // Guests carry a visible tag wherever their name appears: messages and mention suggestions.
  const g = await newPage(suite.server.url);
  await g.getByRole('tab', { name: 'Guest' }).click();
  await g.locator('#form-guest').getByLabel('Display name').fill('Max Power');
  await g.getByRole('button', { name: 'Continue as guest' }).click();
  await online(g);
  await send(g, `guest here ${RUN}`);
  await conv(p, 'World').click();
  await p.locator('#messages li.msg', { hasText: `guest here ${RUN}` }).locator('.guest-tag').waitFor();
  await p.getByLabel('Message', { exact: true }).pressSequentially('@max');
  await p.getByRole('option', { name: /Max Power.*guest/i }).waitFor();
});

browserTest('the emoji picker: every emoji shipped, for reactions and the message box', async () => {
  const a = await user('nia', 'Nia');
  const b = await user('oz', 'Oz');
  await suite.server.befriend(a, b);
  await post(b, dmOf(a, b), 'react to me');
  const p = await newPage(suite.server.url);
  await login(p, a.username);
  await conv(p, 'Oz').click();
  const count = await p.evaluate(async () => {
    const { EMOJI_GROUPS } = await import('/js/emoji-data.js');
    return EMOJI_GROUPS.reduce((n, g) => n + g.items.split('\n').length, 0);
  });
  assert.ok(count > 1500, `${count} emoji shipped`);
  const msg = p.locator('#messages li.msg', { hasText: 'react to me' });
  await msg.hover();
  await msg.getByRole('button', { name: 'More reactions' }).click();
  await p.getByLabel('Search emoji').fill('rocket');
  await p.getByRole('button', { name: 'rocket', exact: true }).click();
  await msg.locator('.reaction', { hasText: '🚀 1' }).waitFor();
  // The message box: a group, then an emoji from it, inserted at the caret.
  const box = p.getByLabel('Message', { exact: true });
  await box.fill('hi ');
  await p.getByRole('button', { name: 'Insert an emoji' }).click();
  await p.getByRole('button', { name: 'Food & Drink' }).click();
  await p.getByRole('button', { name: 'red apple', exact: true }).click();
  assert.equal(await box.inputValue(), 'hi 🍎');
  assert.equal(await p.locator('#emoji-picker').isHidden(), true);
});

browserTest('5,000 messages: the windowed list stays under 3,000 DOM nodes and never freezes', async () => {
  const a = await user('pat', 'Pat');
  const b = await user('quin', 'Quin');
  // A public group Pat joins, then 5,000 messages, 16 at a time.
  const pub = await group(b, `Huge ${RUN}`, [], true);
  await suite.server.api('POST', `/groups/${pub.group_id}/join`, undefined, a.token);
  const N = 5000;
  let next = 1;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next <= N) {
      const i = next++;
      await post(b, pub.conversation_id, `bulk ${i}`);
    }
  }));
  // A frame clock: the longest gap between two animation frames is the longest the page was
  // frozen (headless Chromium reports no "longtask" entries, so they cannot be used).
  const p = await newPage(suite.server.url, {
    init: () => {
      window.frameGap = 0;
      let last = performance.now();
      const tick = (now) => {
        window.frameGap = Math.max(window.frameGap, now - last);
        last = now;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    },
  });
  await login(p, a.username);
  await conv(p, pub.name).click();
  await p.locator('#messages li.msg').first().waitFor();
  await p.evaluate(() => new Promise((r) => requestAnimationFrame(() => { window.frameGap = 0; r(); })));
  const started = Date.now();
  const { texts: all, maxNodes } = await scrollThrough(p);
  const seconds = (Date.now() - started) / 1000;
  const longest = await p.evaluate(() => window.frameGap);
  console.log(`5000 messages: loaded and scrolled through in ${seconds.toFixed(1)} s, at most ${maxNodes} elements, longest gap between frames ${longest.toFixed(0)} ms`);
  // The clock works: a task of 300 ms made on purpose shows as a gap.
  await p.evaluate(() => new Promise((r) => requestAnimationFrame(() => {
    const t = Date.now();
    while (Date.now() - t < 300) { /* busy */ }
    r();
  })));
  await p.waitForFunction(() => window.frameGap >= 250);
  const texts = new Set(all);
  assert.equal(texts.size, N, 'every message was shown');
  assert.ok(maxNodes < 3000, `${maxNodes} DOM elements`);
  assert.ok(longest < 500, `the page froze for ${longest} ms`);
});

// ---------------------------------------------------------------------------------------------
// Staying informed

const fakeNotifications = () => {
  window.notes = [];
  window.Notification = class {
    static permission = 'default';
    static requestPermission() { window.Notification.permission = 'granted'; return Promise.resolve('granted'); }
    constructor(title, opts) { window.notes.push({ title, body: opts && opts.body }); }
    close() {}
  };
  window.hideTab = (hidden) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  };
};

browserTest('notifications, the favicon count and a per-conversation mute every device agrees on', async () => {
  const a = await user('quinn', 'Quinn');
  const b = await user('rae', 'Rae');
  await suite.server.befriend(a, b);
  const dm = dmOf(a, b);
  await post(b, dm, 'first');
  const g = await group(b, `Team ${RUN}`, [a]);
  const p = await newPage(suite.server.url, { init: fakeNotifications });
  await login(p, a.username);
  // Opt in from the settings.
  await p.getByRole('button', { name: 'Settings', exact: true }).click();
  await p.getByLabel(/Desktop notifications/).check();
  await p.waitForFunction(() => JSON.parse(localStorage.getItem('monochat.settings')).notify === true);
  await p.keyboard.press('Escape');
  await p.evaluate(() => window.hideTab(true));
  await post(b, dm, 'ping while hidden');
  await p.waitForFunction(() => window.notes.length === 1);
  assert.deepEqual(await p.evaluate(() => window.notes[0]), { title: 'Rae', body: 'ping while hidden' });
  // A group message notifies only when it mentions the reader.
  await post(b, g.conversation_id, 'group chatter');
  await post(b, g.conversation_id, `@${a.username} look`, { mentions: [a.user_id] });
  await p.waitForFunction(() => window.notes.length === 2);
  assert.equal(await p.evaluate(() => window.notes[1].title), `Rae in Team ${RUN}`);
  // The favicon and the title count what is unread outside the open conversation.
  await until(async () => Number(await p.locator('link[rel=icon]').getAttribute('data-count')) >= 2, 'a favicon count');
  assert.match(await p.title(), /^\(\d+\) monochat$/);
  // Mute the direct chat from its header; a second device sees it muted at once.
  await p.evaluate(() => window.hideTab(false));
  const p2 = await newPage(suite.server.url);
  await login(p2, a.username);
  await conv(p, 'Rae').click();
  await p.getByRole('button', { name: 'Mute notifications' }).click();
  await p.getByRole('button', { name: 'For 8 hours' }).click();
  await p.getByRole('button', { name: /Notifications muted/ }).waitFor();
  await conv(p2, 'Rae').and(p2.locator('.muted')).waitFor();
  const list = await suite.server.api('GET', '/conversations', undefined, a.token);
  const entry = list.conversations.find((c) => c.conversation_id === dm);
  assert.ok(entry.muted_until > Date.now() + 7 * 3600 * 1000);
  // Muted: nothing notifies, and its unread count is grey.
  await conv(p, 'World').click();
  await p.evaluate(() => window.hideTab(true));
  await post(b, dm, 'muted ping');
  await conv(p, 'Rae').locator('.badge.unread.muted').waitFor();
  await p.waitForTimeout(500);
  assert.equal(await p.evaluate(() => window.notes.length), 2);
  // Unmuted from the other device.
  await conv(p2, 'Rae').click();
  await p2.getByRole('button', { name: /Notifications muted/ }).click();
  await p2.getByRole('button', { name: 'Unmute' }).click();
  await p.waitForFunction((cid) => !window.monochat.store.isMuted(window.monochat.store.conv(cid)), dm);
  await post(b, dm, 'loud again');
  await p.waitForFunction(() => window.notes.length === 3);
});

browserTest('an offline banner with a countdown while disconnected', async () => {
  const a = await user('sam', 'Sam');
  const p = await newPage(suite.server.url);
  await login(p, a.username);
  assert.equal(await p.locator('#offline-banner').isVisible(), false);
  await p.context().setOffline(true);
  const banner = p.locator('#offline-banner');
  await p.locator('#offline-banner', { hasText: /Trying again in \d+ s/ }).waitFor();
  await p.context().setOffline(false);
  await online(p);
  await banner.waitFor({ state: 'hidden' });
});

browserTest('the public-group directory: find by name, join without an id', async () => {
  const owner = await user('tom', 'Tom');
  const a = await user('uma', 'Uma');
  const g = await group(owner, `Astronomy Club ${RUN}`, [], true);
  await group(owner, `Astronomy secret ${RUN}`, [], false);
  const p = await newPage(suite.server.url);
  await login(p, a.username);
  await p.getByRole('tab', { name: 'Groups' }).click();
  await p.getByLabel('Find a public group by name').fill(`astronomy club ${RUN}`);
  await p.getByRole('button', { name: 'Find groups' }).click();
  await p.getByRole('button', { name: `Join ${g.name}` }).click();
  await p.locator('#chat-title', { hasText: g.name }).waitFor();
  await conv(p, g.name).waitFor();
  await p.getByRole('tab', { name: 'Groups' }).click();
  await p.getByLabel('Find a public group by name').fill(`astronomy`);
  await p.getByRole('button', { name: 'Find groups' }).click();
  await p.getByRole('button', { name: `Open ${g.name}` }).waitFor();
  assert.equal(await p.locator('#directory-results', { hasText: 'secret' }).count(), 0);
});

// ---------------------------------------------------------------------------------------------
// Quality bars

async function axe(page, what) {
  if (!(await page.evaluate(() => !!window.axe))) {
    await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  }
  const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical' || v.id === 'color-contrast');
  assert.deepEqual(bad.map((v) => `${what}: ${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`), []);
}

browserTest('axe-core: no serious or critical violations, every text at 4.5:1', async () => {
  const a = await user('val', 'Val');
  const b = await user('wes', 'Wes');
  await suite.server.befriend(a, b);
  const g = await group(b, `Audit ${RUN}`, [a]);
  await post(b, g.conversation_id, `@${a.username} a mention https://example.com`, { mentions: [a.user_id] });
  await post(b, dmOf(a, b), 'unread');
  const p = await newPage(suite.server.url, { bypassCSP: true });
  await p.locator('#auth').waitFor();
  await axe(p, 'sign-in');
  await login(p, a.username);
  await conv(p, g.name).locator('.badge.mention').waitFor();
  await conv(p, 'World').click();
  await axe(p, 'chat view with badges');
  await conv(p, g.name).click();
  await p.locator('#messages .text', { hasText: 'a mention' }).waitFor();
  await axe(p, 'chat view');
  await p.getByRole('button', { name: 'Settings', exact: true }).click();
  await axe(p, 'settings');
  await p.keyboard.press('Escape');
  await p.getByRole('button', { name: 'Group settings' }).click();
  await p.locator('#gd-members li.person').nth(1).waitFor();
  await axe(p, 'members dialog');
  await p.keyboard.press('Escape');
  await p.getByRole('button', { name: 'Mute notifications' }).click();
  await axe(p, 'mute dialog');
  await p.getByRole('button', { name: 'Cancel' }).click();
  await p.getByRole('button', { name: 'Insert an emoji' }).click();
  await axe(p, 'emoji picker');
  await p.keyboard.press('Escape');
  // Dark mode (it follows the system) meets the same bars.
  await p.emulateMedia({ colorScheme: 'dark' });
  assert.equal(await p.evaluate(() => getComputedStyle(document.documentElement).backgroundColor), 'rgb(21, 23, 27)');
  await axe(p, 'chat view, dark');
  await p.getByRole('button', { name: 'Group settings' }).click();
  await p.locator('#gd-members li.person').nth(1).waitFor();
  await axe(p, 'members dialog, dark');
});

browserTest('the documentation\'s screenshots, desktop and phone', async () => {
  const names = [['yara', 'Yara Lind'], ['zane', 'Zane Ito'], ['ada', 'Ada Park'], ['bo', 'Bo Chen']];
  const [y, z, ad, bo] = await Promise.all(names.map(([n, d]) => user(n, d)));
  for (const o of [z, ad, bo]) await suite.server.befriend(y, o);
  const g = await group(y, 'Design review', [z, ad, bo]);
  const cid = g.conversation_id;
  const m1 = await post(z, cid, 'Morning! The new mockups are up: https://example.com/mockups');
  await post(z, cid, 'The list feels much calmer now.');
  await post(ad, cid, 'Agreed. The avatars help a lot when scanning.');
  await post(y, cid, 'Great. Shall we ship it on Thursday?');
  await post(bo, cid, `@${y.username} Thursday works, I'll prepare the notes`, { reply_to: m1.seq, mentions: [y.user_id] });
  await suite.server.api('POST', `/conversations/${cid}/messages`, { client_msg_id: `rx-${RUN}`, body: { type: 'reaction', target_seq: m1.seq, emoji: '🎉', op: 'add' } }, ad.token);
  await post(z, dmOf(y, z), 'Lunch at noon?');
  await post(ad, dmOf(y, ad), 'Sent you the slides');
  await post(bo, dmOf(y, bo), 'See you tomorrow');
  await suite.server.api('PATCH', `/conversations/${dmOf(y, bo)}`, { muted_until: 9007199254740991 }, y.token);
  await post(bo, dmOf(y, bo), 'One more thing');
  const pz = await newPage(suite.server.url);
  await login(pz, z.username);
  const p = await newPage(suite.server.url);
  await login(p, y.username);
  await conv(p, 'Design review').click();
  await p.locator('#messages .text', { hasText: 'Thursday works' }).waitFor();
  await conv(p, 'Zane Ito').locator('.dot.on').waitFor();
  // Open and read: its badges go once the read is sent.
  await conv(p, 'Design review').locator('.badge').first().waitFor({ state: 'detached' });
  await p.waitForFunction(() => !/user \d{4}/.test(document.getElementById('messages').textContent));
  await p.evaluate(() => { document.getElementById('toast').classList.remove('show'); document.activeElement.blur(); });
  assert.equal(await p.locator('#messages', { hasText: 'null' }).count(), 0);
  const shots = [];
  await p.screenshot({ path: path.join(OUT, 'client.png') });
  shots.push('client.png');
  const phone = await newPage(suite.server.url, { phone: true });
  await login(phone, ad.username);
  await conv(phone, 'Design review').click();
  await phone.locator('#messages .text', { hasText: 'Thursday works' }).waitFor();
  // Names are fetched after the messages: wait for them (no "user 1234" placeholders), and take
  // the picture without the actions bar a tap leaves on a message.
  await phone.waitForFunction(() => !/user \d{4}/.test(document.getElementById('messages').textContent));
  await phone.evaluate(() => {
    document.getElementById('toast').classList.remove('show');
    document.activeElement.blur();
    for (const a of document.querySelectorAll('#messages .actions')) a.remove();
  });
  await phone.screenshot({ path: path.join(OUT, 'client-phone.png') });
  shots.push('client-phone.png');
  if (process.env.MONOCHAT_DOC_SCREENSHOTS) {
    for (const s of shots) fs.copyFileSync(path.join(OUT, s), path.join(process.env.MONOCHAT_DOC_SCREENSHOTS, s));
  }
});
