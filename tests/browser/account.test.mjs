// Browser tests of the settings page (issue 18, "The web client") and avatars (issue 20): a
// picture uploaded in settings replaces the initials for the user and for others; the display
// name, a password change (refused with a wrong current one), the sessions list with revoke and
// log out everywhere; blocking from a person's row, unblocking from settings, and deleting the
// account with its password.
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { RUN, PASSWORD, browserTest, newPage, login, conv, setupSuite } from './harness.mjs';

const suite = setupSuite();
let seq = 0;

async function user(base, displayName) {
  seq += 1;
  return suite.server.register(`${base}${seq}_${RUN}`, displayName);
}

// The status of a request with `token` (no throw): 401 once a session is revoked.
async function statusWith(token, p = '/me') {
  const r = await fetch(`${suite.server.url}/api/v1${p}`, { headers: { Authorization: `Bearer ${token}` } });
  return r.status;
}

function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xEDB88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

// An RGB PNG of w x h in one colour.
function png(w, h, [r, g, b]) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const row = Buffer.alloc(1 + w * 3);
  for (let x = 0; x < w; x++) { row[1 + 3 * x] = r; row[2 + 3 * x] = g; row[3 + 3 * x] = b; }
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

async function openSettings(page) {
  await page.getByRole('button', { name: 'Settings', exact: true }).click();
  await page.locator('#settings-dialog').waitFor({ state: 'visible' });
}

// Waits until `selector` holds a loaded picture from an object URL.
async function pictureShown(page, selector) {
  await page.waitForFunction((sel) => {
    const img = document.querySelector(sel);
    return img && img.src.startsWith('blob:') && img.complete && img.naturalWidth > 0;
  }, selector);
}

// One test, two people, one page each: every page and login costs seconds of CI time.
browserTest('settings: picture, name, sessions, password, blocking, log out everywhere, delete', async () => {
  const a = await user('amy', 'Amy');
  const b = await user('bob', 'Bob');
  await suite.server.befriend(a, b);
  const pa = await newPage(suite.server.url);
  await login(pa, a.username);
  await openSettings(pa);
  const dialog = pa.locator('#settings-dialog');

  // A picture replaces the initials, here and for others.
  assert.equal(await pa.locator('#set-avatar .avatar').textContent(), 'AM');
  await pa.locator('#set-avatar-file').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png(120, 90, [30, 140, 60]) });
  await pictureShown(pa, '#set-avatar .avatar img.avatar-img');
  const pictureUrl = await pa.locator('#set-avatar img.avatar-img').getAttribute('src');
  const fileId = await pa.locator('#set-avatar').getAttribute('data-file');
  assert.match(fileId, /^[0-9]+$/);
  assert.equal((await suite.server.api('GET', '/me', undefined, a.token)).user.avatar_file_id, fileId);
  const pb = await newPage(suite.server.url);
  await login(pb, b.username);
  await pb.getByRole('tab', { name: /Friends/ }).click();
  await pictureShown(pb, '#friend-list .person .avatar img.avatar-img');
  // Removing it brings the initials back.
  await dialog.getByRole('button', { name: 'Remove picture' }).click();
  await pa.locator('#set-avatar .avatar:not(.has-picture)').waitFor();
  assert.equal(await pa.locator('#set-avatar .avatar').textContent(), 'AM');
  assert.equal((await suite.server.api('GET', '/me', undefined, a.token)).user.avatar_file_id, null);

  // Two sessions: this browser and the registration's token; revoke the other one.
  const rows = pa.locator('#set-sessions li.session');
  await rows.nth(1).waitFor();
  assert.equal(await rows.count(), 2);
  await pa.locator('#set-sessions li.session', { hasText: 'this browser' }).waitFor();
  await dialog.getByRole('button', { name: /^Revoke the session/ }).click();
  await pa.waitForFunction(() => document.querySelectorAll('#set-sessions li.session').length === 1);
  assert.equal(await statusWith(a.token), 401);

  // The display name, shown at once.
  await dialog.getByLabel('Display name').fill('Amelia');
  await dialog.getByRole('button', { name: 'Save name' }).click();
  await pa.locator('#me-name', { hasText: 'Amelia' }).waitFor();

  // A wrong current password is refused; the right one logs the other sessions out.
  const other = await suite.server.api('POST', '/auth/login', { username: a.username, password: PASSWORD });
  await dialog.getByLabel('Current password').fill('not the password');
  await dialog.getByLabel('New password').fill('a brand new secret');
  await dialog.getByRole('button', { name: 'Change password' }).click();
  await pa.locator('#set-error', { hasText: /./ }).waitFor();
  assert.equal(await statusWith(other.token), 200);
  await dialog.getByLabel('Current password').fill(PASSWORD);
  await dialog.getByLabel('New password').fill('a brand new secret');
  await dialog.getByRole('button', { name: 'Change password' }).click();
  await pa.locator('#toast', { hasText: 'Password changed' }).waitFor();
  assert.equal(await statusWith(other.token), 401);
  await pa.keyboard.press('Escape');

  // Block Bob from his row in the friend list; he can no longer ask Amy to be friends.
  await pa.getByRole('tab', { name: /Friends/ }).click();
  await pa.getByRole('button', { name: 'Block Bob' }).click();
  await pa.locator('#friend-list', { hasText: 'No friends yet' }).waitFor();
  await assert.rejects(suite.server.api('POST', '/friends/requests', { user_id: a.user_id }, b.token), /403/);
  // Found by name, his row offers Unblock; settings list him, and unblock him.
  await pa.getByLabel('Find people by username').fill(b.username);
  await pa.locator('#find-form').getByRole('button', { name: 'Find' }).click();
  await pa.locator('#find-results').getByRole('button', { name: 'Unblock Bob' }).waitFor();
  await openSettings(pa);
  const blocked = pa.locator('#set-blocked');
  await blocked.getByText('Bob', { exact: true }).waitFor();
  await blocked.getByRole('button', { name: 'Unblock Bob' }).click();
  await blocked.getByText('You have blocked nobody.').waitFor();
  await suite.server.api('POST', '/friends/requests', { user_id: a.user_id }, b.token);

  // Bob logs out everywhere: his page too.
  await openSettings(pb);
  await pb.locator('#settings-dialog').getByRole('button', { name: 'Log out everywhere' }).click();
  await pb.locator('#auth-error', { hasText: 'logged out' }).waitFor();
  assert.equal(await statusWith(b.token), 401);

  // Deleting the account needs the password.
  const form = pa.locator('#set-delete-form');
  await form.getByLabel('Password').fill('wrong password!');
  await form.getByRole('button', { name: 'Delete my account' }).click();
  await pa.locator('#set-error', { hasText: /./ }).waitFor();
  await form.getByLabel('Password').fill('a brand new secret');
  await form.getByRole('button', { name: 'Delete my account' }).click();
  await pa.locator('#auth-error', { hasText: 'Your account is deleted.' }).waitFor();
  // The session's fetched files went with it: the next person in this tab cannot be shown them.
  assert.equal(await pa.evaluate((u) => new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve('readable');
    img.onerror = () => resolve('revoked');
    img.src = u;
  }), pictureUrl), 'revoked');
  const gone = await suite.server.api('POST', '/auth/register', { username: `cat_${RUN}`, password: PASSWORD });
  assert.equal((await suite.server.api('GET', `/users/${a.user_id}`, undefined, gone.token)).user.deleted, true);
});
