// Browser tests of group settings and the join-by-link page (issue 18, "The web client"): a
// rename and description seen live by another member; what a member sees (no moderation); an
// invite link copied to the clipboard and opened by someone signed out, who registers and lands
// in the group; a mute that turns the member's message box off with the reason (and a mute the
// page missed, shown after the refused send), lifted again; a ban that takes the member out at
// once and makes the link refuse them, with the reason shown, then unban; a refusal shown in the
// panel; and deleting a group, which needs the server route of DELETE /groups/{id}.
import assert from 'node:assert/strict';
import {
  RUN, browserTest, newPage, online, register, send, conv, setupSuite,
} from './harness.mjs';

const suite = setupSuite();
let seq = 0;

async function user(base, displayName) {
  seq += 1;
  return suite.server.register(`${base}${seq}_${RUN}`, displayName);
}

// `owner`'s group with `members` (befriended first: only friends may be added).
async function group(owner, name, members) {
  for (const m of members) await suite.server.befriend(owner, m);
  const r = await suite.server.api('POST', '/groups', { name, member_ids: members.map((m) => m.user_id) }, owner.token);
  return r.group;
}

// A page signed in as `u` from the start (its token put in storage before the client runs):
// signing in through the form is account.test.mjs's subject, and costs a second a page here.
async function pageOf(u) {
  const page = await newPage(suite.server.url, { init: `localStorage.setItem('monochat.token', ${JSON.stringify(u.token)})` });
  await online(page);
  return page;
}

async function openSettings(page) {
  await page.getByRole('button', { name: 'Group settings' }).click();
  const dialog = page.locator('#group-dialog');
  await dialog.locator('#gd-members li.person').first().waitFor();
  return dialog;
}

// One test, three people, one page each: pages and logins are most of a browser test's time.
browserTest('group settings: rename, invite link and join, mute, ban, errors', async () => {
  const amy = await user('amy', 'Amy');
  const bob = await user('bob', 'Bob');
  const g = await group(amy, `Club ${RUN}`, [bob]);
  const renamed = `Board games ${RUN}`;
  const pa = await pageOf(amy);
  await pa.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: suite.server.url });
  const pb = await pageOf(bob);
  await conv(pb, g.name).click();

  // A member reads the settings: no form, no links, no moderation, no delete; may leave.
  const db = await openSettings(pb);
  assert.equal(await db.locator('#gd-about').isVisible(), false);
  assert.equal(await db.locator('#gd-invites-section').isVisible(), false);
  assert.equal(await db.getByRole('button', { name: /^(Mute|Ban|Remove) / }).count(), 0);
  assert.equal(await db.getByRole('button', { name: 'Delete group' }).isVisible(), false);
  await db.getByRole('button', { name: 'Leave group' }).waitFor();
  await pb.keyboard.press('Escape');

  // The owner renames the group and describes it: Bob's header and list follow at once.
  await conv(pa, g.name).click();
  const da = await openSettings(pa);
  await da.getByLabel('Name', { exact: true }).fill(renamed);
  await da.getByLabel('Description').fill('Fridays at eight');
  await da.getByRole('button', { name: 'Save', exact: true }).click();
  await pb.locator('#chat-title', { hasText: renamed }).waitFor();
  await pb.locator('#chat-sub', { hasText: 'Fridays at eight' }).waitFor();
  await conv(pb, renamed).waitFor();
  await pa.locator('#gd-title', { hasText: renamed }).waitFor();

  // An invite link for two uses: shown, and copied to the clipboard with a confirmation.
  await da.getByLabel('Uses', { exact: true }).fill('2');
  await da.getByRole('button', { name: 'Create link' }).click();
  const invite = da.locator('#gd-invites li.invite');
  await invite.waitFor();
  const link = await invite.locator('input.invite-link').inputValue();
  assert.match(link, new RegExp(`^${suite.server.url}/#/join/[0-9a-f]{32}$`));
  await invite.getByRole('button', { name: /^Copy the invite link/ }).click();
  await invite.locator('.copied', { hasText: 'Copied' }).waitFor();
  assert.equal(await pa.evaluate(() => navigator.clipboard.readText()), link);
  assert.match(await invite.textContent(), /2 uses left/);

  // Cat, signed out, opens the link: the sign-in page says why, she registers, confirms and
  // lands in the group; the owner's panel counts her at once.
  const pc = await newPage(link);
  await pc.locator('#auth-join').waitFor();
  const cat = `cat${++seq}_${RUN}`;
  await register(pc, cat, 'Cat');
  await pc.locator('#join-dialog').getByRole('button', { name: 'Join group' }).click();
  await pc.locator('#chat-title', { hasText: renamed }).waitFor();
  assert.equal(await pc.evaluate(() => location.hash), '');
  await pa.locator('#gd-info', { hasText: '3 members' }).waitFor();
  await invite.getByText('1 use left').waitFor();

  // Muted for an hour: Cat's message box is off and says why; unmuted, it is back.
  await da.getByRole('button', { name: 'Mute Cat', exact: true }).click();
  await da.getByRole('button', { name: 'Mute Cat for 1 hour' }).click();
  await pc.locator('#send-note', { hasText: 'A moderator muted you in this group until' }).waitFor();
  assert.equal(await pc.getByLabel('Message', { exact: true }).isDisabled(), true);
  await da.locator('#gd-members li.person', { hasText: 'Cat' }).locator('.muted-tag', { hasText: 'muted until' }).waitFor();
  // A page that missed the mute (loaded after it) learns it from the refused send.
  await pc.reload();
  await online(pc);
  await conv(pc, renamed).click();
  assert.equal(await pc.getByLabel('Message', { exact: true }).isDisabled(), false);
  await send(pc, `while muted ${RUN}`);
  await pc.locator('#messages li.msg.pending.failed').waitFor();
  await pc.locator('#send-note', { hasText: 'You are muted in this group' }).waitFor();
  await da.getByRole('button', { name: 'Unmute Cat' }).click();
  await pc.locator('#send-note').waitFor({ state: 'hidden' });
  await send(pc, `back again ${RUN}`);
  await pb.locator('#messages .text', { hasText: `back again ${RUN}` }).waitFor();

  // Banned: Cat is out at once (her list loses the group, its view closes); the bans list
  // shows her; the link refuses her with the reason and keeps its use.
  await da.getByRole('button', { name: 'Ban Cat' }).click();
  await pc.locator('#chat-title', { hasText: 'Pick a conversation' }).waitFor();
  await conv(pc, renamed).waitFor({ state: 'detached' });
  await da.locator('#gd-bans li.person', { hasText: 'Cat' }).waitFor();
  await pa.locator('#gd-info', { hasText: '2 members' }).waitFor();
  await pc.goto(link);
  await pc.locator('#join-dialog').getByRole('button', { name: 'Join group' }).click();
  await pc.locator('#join-error', { hasText: 'banned' }).waitFor();
  assert.equal(await conv(pc, renamed).count(), 0);
  await pc.locator('#join-dialog').getByRole('button', { name: 'Cancel' }).click();
  assert.equal(await pc.evaluate(() => location.hash), '');
  await da.getByRole('button', { name: 'Unban Cat' }).click();
  await da.locator('#gd-bans', { hasText: 'Nobody is banned.' }).waitFor();
  await invite.getByText('1 use left').waitFor();

  // A refusal shows in the panel with the server's reason: a link revoked elsewhere.
  const code = link.slice(link.lastIndexOf('/') + 1);
  await suite.server.api('DELETE', `/groups/${g.group_id}/invites/${code}`, undefined, amy.token);
  await invite.getByRole('button', { name: /^Revoke the invite link/ }).click();
  await pa.locator('#gd-error', { hasText: 'no such invite' }).waitFor();
  await da.locator('#gd-invites', { hasText: 'No links yet.' }).waitFor();
  // And the revoked link is dead for the next person.
  await pc.goto(link);
  await pc.locator('#join-dialog').getByRole('button', { name: 'Join group' }).click();
  await pc.locator('#join-error', { hasText: 'unknown, used up or expired' }).waitFor();
});

// Needs DELETE /groups/{group_id} on the server (issue 18, branch i18d).
browserTest('deleting a group: the owner confirms, and the other member loses it live', async () => {
  const dan = await user('dan', 'Dan');
  const eve = await user('eve', 'Eve');
  const g = await group(dan, `Doomed ${RUN}`, [eve]);
  const pd = await pageOf(dan);
  const pe = await pageOf(eve);
  await conv(pe, g.name).click();
  await pe.locator('#chat-title', { hasText: g.name }).waitFor();
  await conv(pd, g.name).click();
  const dd = await openSettings(pd);
  // The confirmation dialog is accepted by the harness.
  await dd.getByRole('button', { name: 'Delete group' }).click();
  await conv(pd, g.name).waitFor({ state: 'detached' });
  await pe.locator('#toast', { hasText: 'was deleted' }).waitFor();
  await conv(pe, g.name).waitFor({ state: 'detached' });
  await pe.locator('#chat-title', { hasText: 'Pick a conversation' }).waitFor();
  await assert.rejects(suite.server.api('GET', `/groups/${g.group_id}`, undefined, dan.token), /: 404 /);
});
