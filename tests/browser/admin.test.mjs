// Browser tests of the admin page (issue 18, "The web client": `/#/admin`): a non-admin has no
// link and is refused; the admin sees stats, creates a user, issues a password reset that the
// user redeems on the log-in page, suspends that user (their socket closes with 4003 and the
// page shows the log-in) and unsuspends and deletes them; a live setting refused next to its
// field, then invite-only registration set through the live settings form and an invite link
// used to register; a world mute refused in the muted user's client and lifted; slow mode set
// on the page and a second quick send refused with its message shown.
// One server, one test, few pages: every page and login costs seconds of CI time.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { RUN, PASSWORD, browserTest, newPage, login, online, send, setupSuite } from './harness.mjs';

const suite = setupSuite();
const require = createRequire(import.meta.url);

// axe-core over the admin page: no serious or critical violation, every text at 4.5:1.
async function axe(page, what) {
  if (!(await page.evaluate(() => !!window.axe))) {
    await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  }
  const r = await page.evaluate(() => window.axe.run('#admin-dialog', { resultTypes: ['violations'] }));
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical' || v.id === 'color-contrast');
  assert.deepEqual(bad.map((v) => `${what}: ${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`), []);
}

async function status(method, p, body, token) {
  const r = await fetch(`${suite.server.url}/api/v1${p}`, {
    method, headers: token ? { Authorization: `Bearer ${token}` } : {}, body: body === undefined ? undefined : JSON.stringify(body),
  });
  return r.status;
}

// Records the close codes of the page's WebSockets (window.closeCodes).
function recordCloses() {
  const Native = window.WebSocket;
  window.closeCodes = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('close', (ev) => window.closeCodes.push(ev.code));
    }
  };
}

browserTest('admin page: stats, users, reset, suspend, delete, invites, world mutes, slow mode, live settings', async () => {
  const admin = await suite.server.register('webadmin');
  const plainName = `norm_${RUN}`;
  const plain = await suite.server.register(plainName);

  // A non-admin: no link, and the address refuses; the server's 403 is the real guard.
  const pn = await newPage(suite.server.url);
  await login(pn, plainName);
  await pn.goto(`${suite.server.url}/#/admin`);
  await pn.locator('#admin-dialog .admin-denied', { hasText: 'Not allowed' }).waitFor();
  assert.equal(await pn.locator('#admin-users').count(), 0);
  assert.equal(await pn.locator('#admin-link').isHidden(), true);
  assert.equal(await status('GET', '/admin/stats', undefined, plain.token), 403);
  await pn.keyboard.press('Escape');

  // The admin: the link, and the stats.
  const pa = await newPage(suite.server.url, { bypassCSP: true });
  await login(pa, 'webadmin');
  await pa.getByRole('link', { name: 'Admin' }).click();
  const page = pa.locator('#admin-dialog');
  await page.waitFor({ state: 'visible' });
  const stats = pa.locator('#admin-stats dl');
  await stats.locator('dt', { hasText: 'Online users' }).waitFor();
  const statValue = (name) => stats.locator('dt', { hasText: name }).locator('xpath=following-sibling::dd[1]').textContent();
  assert.ok(Number(await statValue('Online users')) >= 2);
  assert.match(await statValue('Version'), /\S/);
  const before = await stats.getAttribute('data-loaded');
  await pa.getByRole('button', { name: 'Refresh stats' }).click();
  await pa.waitForFunction((b) => document.querySelector('#admin-stats dl').dataset.loaded !== b, before);

  // Every section loaded, in light and dark mode (while the lists are short: axe's time grows
  // with them).
  const users = pa.locator('#admin-users');
  await users.locator(`li.admin-user[data-username="${plainName}"]`).waitFor();
  await pa.locator('#admin-settings .admin-field[data-key="auth.registration"]').waitFor();
  await pa.locator('#admin-world').getByText('Slow mode is off.').waitFor();
  await axe(pa, 'admin page');
  await pa.emulateMedia({ colorScheme: 'dark' });
  await axe(pa, 'admin page, dark');
  await pa.emulateMedia({ colorScheme: 'light' });

  // More users than one page of the list (100), a guest and a bot: the list a page at a time;
  // admins, guests and bots are marked.
  for (let i = 0; i < 100; i += 25) {
    await Promise.all(Array.from({ length: 25 }, (_, j) => suite.server.register(`fill${i + j}_${RUN}`)));
  }
  const guest = (await suite.server.api('POST', '/auth/guest', { display_name: 'Visitor' })).user;
  const bot = (await suite.server.api('POST', '/admin/bots', { username: `robo_${RUN}` }, admin.token)).user;
  await pa.getByRole('button', { name: 'Refresh users' }).click();
  const rows = users.locator('li.admin-user');
  await users.getByRole('button', { name: 'Load more' }).waitFor();
  assert.equal(await rows.count(), 100);
  assert.equal(await users.locator('li.admin-user[data-username="webadmin"] .tag-admin').count(), 1);
  await users.getByRole('button', { name: 'Load more' }).click();
  await users.locator(`li.admin-user[data-uid="${bot.user_id}"] .tag-bot`).waitFor();
  assert.equal(await rows.count(), 104);
  assert.equal(await users.getByRole('button', { name: 'Load more' }).isHidden(), true);
  assert.equal(await users.locator(`li.admin-user[data-uid="${guest.user_id}"] .tag-guest`).count(), 1);

  // Create a user, who logs in.
  const cathy = `cathy_${RUN}`;
  const create = users.locator('form.admin-create');
  await create.getByLabel('Username').fill(cathy);
  await create.getByLabel('Password').fill(PASSWORD);
  await create.getByRole('button', { name: 'Create user' }).click();
  const cathyRow = users.locator(`li.admin-user[data-username="${cathy}"]`);
  await cathyRow.waitFor();
  const cathyId = await cathyRow.getAttribute('data-uid');
  assert.equal(await status('POST', '/auth/login', { username: cathy, password: PASSWORD }), 200);
  // The filter narrows the loaded rows.
  await users.getByLabel('Filter the loaded users').fill('cathy_');
  await pa.waitForFunction(() => document.querySelectorAll('#admin-users li.admin-user').length === 1);
  await users.getByLabel('Filter the loaded users').fill('');

  // The server's refusal shows in the row: a group owner cannot be deleted (409).
  await suite.server.api('POST', '/groups', { name: `Owned ${RUN}`, member_ids: [] }, plain.token);
  const plainRow = users.locator(`li.admin-user[data-username="${plainName}"]`);
  await plainRow.getByRole('button', { name: /^Delete/ }).click();
  await plainRow.locator('.error', { hasText: /^Conflict: / }).waitFor();

  // A password reset: the token is shown once; Cathy sets a new password with it on the log-in page.
  await cathyRow.getByRole('button', { name: /^Reset password for/ }).click();
  const token = await cathyRow.locator('.admin-reset input.copy-text').inputValue();
  assert.match(token, /^[0-9a-f]{64}$/);
  const pc = await newPage(suite.server.url, { init: recordCloses });
  await pc.getByText('Reset a password').click();
  const reset = pc.locator('#form-reset');
  await reset.getByLabel('Reset token').fill(token);
  await reset.getByLabel('New password').fill('a fresh password 1');
  await reset.getByRole('button', { name: 'Set the password and log in' }).click();
  await online(pc);
  assert.equal(await status('POST', '/auth/login', { username: cathy, password: PASSWORD }), 401);

  // Suspend: Cathy's socket closes with 4003 and her page shows the log-in; she cannot log in
  // until she is unsuspended.
  await cathyRow.getByRole('button', { name: /^Suspend/ }).click();
  await cathyRow.locator('.tag-suspended').waitFor();
  await pc.locator('#auth').waitFor({ state: 'visible' });
  await pc.locator('#auth-error', { hasText: /session has ended/ }).waitFor();
  assert.ok((await pc.evaluate(() => window.closeCodes)).includes(4003));
  assert.equal(await status('POST', '/auth/login', { username: cathy, password: 'a fresh password 1' }), 403);
  await cathyRow.getByRole('button', { name: /^Unsuspend/ }).click();
  await cathyRow.locator('.tag-suspended').waitFor({ state: 'detached' });
  assert.equal(await status('POST', '/auth/login', { username: cathy, password: 'a fresh password 1' }), 200);

  // Delete, after the confirmation (the harness accepts it).
  await cathyRow.getByRole('button', { name: /^Delete/ }).click();
  await cathyRow.waitFor({ state: 'detached' });
  assert.equal(await status('GET', `/users/${cathyId}`, undefined, admin.token), 404);

  // Live settings: a refused value is shown next to its field and nothing applies.
  const settings = pa.locator('#admin-settings');
  const field = (key) => settings.locator(`.admin-field[data-key="${key}"]`);
  await field('limits.send_rate').locator('input').fill('0');
  await settings.getByRole('button', { name: 'Apply changes' }).click();
  await field('limits.send_rate').locator('.field-error', { hasText: 'outside' }).waitFor();
  await pa.getByRole('button', { name: 'Refresh live settings' }).click();
  // (The refreshed form replaces the fields: wait for it before typing into one.)
  await field('limits.send_rate').locator('.field-error', { hasText: 'outside' }).waitFor({ state: 'detached' });
  // Invite-only registration, set through the form.
  await field('auth.registration').locator('input').fill('invite');
  await settings.getByRole('button', { name: 'Apply changes' }).click();
  await settings.locator('.admin-applied', { hasText: 'Applied: auth.registration' }).waitFor();
  assert.equal(await status('POST', '/auth/register', { username: `nocode_${RUN}`, password: PASSWORD }), 403);

  // An invite, and its link used to register.
  const invites = pa.locator('#admin-invites');
  await invites.getByRole('button', { name: 'Create invite' }).click();
  const fresh = invites.locator('li.admin-invite.fresh');
  await fresh.waitFor();
  const code = await fresh.getAttribute('data-code');
  const link = await fresh.getByRole('textbox', { name: 'Invite link' }).inputValue();
  assert.equal(link, `${suite.server.url}/#/register/${code}`);
  await pc.goto(link);
  const form = pc.locator('#form-register');
  await form.waitFor({ state: 'visible' });
  assert.equal(await form.getByLabel('Invite code').inputValue(), code);
  await form.getByLabel('Username').fill(`invited_${RUN}`);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Create account' }).click();
  await online(pc);
  await pa.getByRole('button', { name: 'Refresh invites' }).click();
  await invites.locator(`li.admin-invite[data-code="${code}"]`, { hasText: 'used up' }).waitFor();
  await invites.getByRole('button', { name: `Revoke invite ${code}` }).click();
  await invites.getByText('No invites.').waitFor();

  // World: mute the plain user (picked from the list) until lifted; their send is refused in
  // their client; lift it and they write again.
  const world = pa.locator('#admin-world');
  await world.getByLabel('User to mute').selectOption({ label: `${plainName} (@${plainName})` });
  await world.getByLabel('Mute for').selectOption({ label: 'Until lifted' });
  await world.getByRole('button', { name: 'Mute in world' }).click();
  await world.locator(`li.admin-mute[data-uid="${plain.user_id}"]`, { hasText: 'until lifted' }).waitFor();
  await pn.locator('#chat-title', { hasText: /world/i }).waitFor();
  await send(pn, 'muted words');
  await pn.locator('#messages .status.failed', { hasText: 'muted in world' }).waitFor();
  await world.getByRole('button', { name: /^Lift the mute of/ }).click();
  await world.getByText('Nobody is muted in world.').waitFor();

  // Slow mode through the page: the first send passes, a quick second one is refused.
  await world.getByLabel('Slow mode seconds').fill('60');
  await world.getByRole('button', { name: 'Set slow mode' }).click();
  await world.getByText('Applied: policy.world_slow_mode_s').waitFor();
  assert.equal((await suite.server.api('GET', '/admin/settings', undefined, admin.token)).live.policy.world_slow_mode_s, 60);
  await send(pn, 'first slow');
  await pn.locator('#messages li.msg:not(.pending) .text', { hasText: 'first slow' }).waitFor();
  await send(pn, 'second slow');
  await pn.locator('#messages .status.failed', { hasText: /sending too fast; wait \d+ s/ }).waitFor();
});
