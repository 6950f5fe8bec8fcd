// The account part of the settings page (docs/protocol.md, "Accounts and sessions", "Blocking"
// and "Avatars"): the profile picture and display name, the password, the sessions with revoke
// and log out everywhere, the blocked people with unblock, and deleting the account. Also
// blockUser(), which the people view offers on a person's row.

import { app, explain, toast } from './app.js';
import { $, avatar, h } from './dom.js';

// The types the server keeps as avatars (it checks the bytes, not this list).
const PICTURE_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];

let session = null; // hooks from main.js: { ended(message), renamed(user) }

function showError(e) { $('set-error').textContent = e ? explain(e) : ''; }

// The user as the server answered it: everywhere at once.
function remember(user) {
  const store = app.store;
  if (!store || !user) return;
  store.me = { ...store.me, ...user };
  store.rememberUser(user);
  if (session) session.renamed(store.me);
  renderProfile();
  store.emit('users');
}

function renderProfile() {
  const me = app.store && app.store.me;
  if (!me) return;
  $('set-avatar').replaceChildren(avatar(me.user_id, me.display_name || me.username));
  $('set-avatar').dataset.file = me.avatar_file_id || '';
  $('set-avatar-clear').hidden = !me.avatar_file_id;
  const input = $('set-name-form').elements.display_name;
  if (document.activeElement !== input) input.value = me.display_name || '';
}

function when(ms) {
  return ms ? new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '';
}

// A User-Agent reduced to what a person recognises: the browser and the system.
function clientName(ua) {
  if (!ua) return 'Unknown client';
  const browser = (/(Edg|Firefox|Chrome|Chromium|Safari)\/[\d.]+/.exec(ua) || [])[1];
  const system = (/(Windows|Android|iPhone|iPad|Mac OS X|Linux)/.exec(ua) || [])[1];
  if (!browser && !system) return ua.slice(0, 60);
  return [browser === 'Edg' ? 'Edge' : browser, system].filter(Boolean).join(' on ');
}

async function renderSessions() {
  let list;
  try {
    list = (await app.api.sessions()).sessions || [];
  } catch (e) {
    showError(e);
    return;
  }
  $('set-sessions').replaceChildren(...list.map((s) => h('li', { class: 'session', dataset: { session: s.session_id } },
    h('span', { class: 'session-text' },
      h('strong', { text: clientName(s.user_agent) }), s.current ? h('span', { class: 'sub', text: ' (this browser)' }) : null,
      h('br'), h('span', { class: 'sub', text: `Signed in ${when(s.created_at)}, last used ${when(s.last_used_at)}` })),
    s.current ? null : h('button', {
      type: 'button', class: 'ghost', text: 'Revoke', 'aria-label': `Revoke the session of ${clientName(s.user_agent)} signed in ${when(s.created_at)}`,
      onclick: async () => {
        try {
          await app.api.revokeSession(s.session_id);
          toast('Session revoked.');
          renderSessions();
        } catch (e) { showError(e); }
      },
    }))));
}

// Who the user has blocked, as last read from the server (GET /blocks).
let blocked = [];
export const blockedIds = new Set();

export async function loadBlocked() {
  if (!app.store || app.store.me.guest) return;
  blocked = (await app.api.blocks()).users || [];
  blockedIds.clear();
  for (const u of blocked) {
    blockedIds.add(u.user_id);
    app.store.rememberUser(u);
  }
}

export async function renderBlocked() {
  if (!app.store || app.store.me.guest) return;
  try {
    await loadBlocked();
  } catch (e) {
    showError(e);
    return;
  }
  $('set-blocked').replaceChildren(...(blocked.length ? blocked.map((u) => {
    const name = u.display_name || u.username;
    return h('li', { class: 'person' }, avatar(u.user_id, name),
      h('span', { class: 'person-name' }, h('strong', { text: name }), ' ',
        u.username ? h('span', { class: 'sub', text: `@${u.username}` }) : null),
      h('button', { type: 'button', text: 'Unblock', 'aria-label': `Unblock ${name}`, onclick: () => unblockUser(u) }));
  }) : [h('li', { class: 'sub', text: 'You have blocked nobody.' })]));
}

// Blocks a person (after asking): their friendship and requests with you end, they cannot
// message or add you, and nothing tells them. Answers whether it happened.
export async function blockUser(u) {
  const name = u.display_name || u.username || 'this person';
  if (!window.confirm(`Block ${name}? They will no longer be able to message you, send you friend requests or add you to groups.`)) return false;
  try {
    await app.api.block(u.user_id);
    blockedIds.add(u.user_id);
    toast(`${name} is blocked.`);
    if (app.store) await Promise.all([app.store.loadFriends(), app.store.loadRequests()]).catch(() => {});
    if ($('settings-dialog').open) renderBlocked();
    return true;
  } catch (e) {
    toast(explain(e));
    return false;
  }
}

export async function unblockUser(u) {
  const name = u.display_name || u.username || 'this person';
  try {
    await app.api.unblock(u.user_id);
    blockedIds.delete(u.user_id);
    toast(`${name} is unblocked.`);
    if ($('settings-dialog').open) renderBlocked();
    return true;
  } catch (e) {
    toast(explain(e));
    return false;
  }
}

// The Block or Unblock button of a person's row; `changed()` redraws the row's list.
export function blockButton(u, changed) {
  const name = u.display_name || u.username;
  const isBlocked = blockedIds.has(u.user_id);
  return h('button', {
    type: 'button', class: 'ghost', text: isBlocked ? 'Unblock' : 'Block',
    'aria-label': `${isBlocked ? 'Unblock' : 'Block'} ${name}`,
    onclick: async () => {
      if (await (isBlocked ? unblockUser(u) : blockUser(u))) changed();
    },
  });
}

// Fills the page for the signed-in user; called each time settings opens.
export function renderAccount() {
  const me = app.store && app.store.me;
  if (!me) return;
  showError(null);
  for (const el of document.querySelectorAll('#settings-dialog .registered-only')) el.hidden = !!me.guest;
  renderProfile();
  renderSessions();
  renderBlocked();
}

async function uploadPicture(file) {
  showError(null);
  if (!PICTURE_TYPES.includes(file.type)) {
    showError(new Error('Pick a JPEG, PNG, GIF or WebP picture.'));
    return;
  }
  const button = $('set-avatar-pick');
  button.disabled = true;
  button.textContent = 'Uploading…';
  try {
    const f = await app.api.upload(file, file.name || 'avatar');
    const r = await app.api.updateProfile({ avatar_file_id: f.file_id });
    remember(r.user);
    toast('Your picture is updated.');
  } catch (e) {
    showError(e);
  } finally {
    button.disabled = false;
    button.textContent = 'Upload a picture';
  }
}

async function submitting(form, fn) {
  const button = form.querySelector('button[type=submit]');
  showError(null);
  button.disabled = true;
  try {
    await fn(Object.fromEntries(new FormData(form)));
  } catch (e) {
    showError(e);
  } finally {
    button.disabled = false;
  }
}

// `hooks.ended(message)` ends the session in this tab; `hooks.renamed(me)` shows a new name.
export function setupAccount(hooks) {
  session = hooks;
  $('set-avatar-pick').addEventListener('click', () => $('set-avatar-file').click());
  $('set-avatar-file').addEventListener('change', (ev) => {
    const file = ev.target.files && ev.target.files[0];
    ev.target.value = '';
    if (file) uploadPicture(file);
  });
  $('set-avatar-clear').addEventListener('click', async () => {
    showError(null);
    try {
      remember((await app.api.updateProfile({ avatar_file_id: null })).user);
      toast('Your picture is removed.');
    } catch (e) { showError(e); }
  });
  $('set-name-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    submitting(ev.target, async (d) => {
      remember((await app.api.updateProfile({ display_name: d.display_name.trim() })).user);
      toast('Your name is updated.');
    });
  });
  $('set-password-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const form = ev.target;
    submitting(form, async (d) => {
      await app.api.changePassword(d.current_password, d.new_password);
      form.reset();
      toast('Password changed; your other sessions are logged out.');
      renderSessions();
    });
  });
  $('set-logout-all').addEventListener('click', async () => {
    if (!window.confirm('Log out of every session, this one included?')) return;
    try {
      await app.api.logoutAll();
    } catch (e) {
      showError(e);
      return;
    }
    session.ended('You logged out everywhere.');
  });
  $('set-delete-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const form = ev.target;
    if (!window.confirm('Delete your account for good?')) return;
    submitting(form, async (d) => {
      await app.api.deleteAccount(d.password);
      form.reset();
      session.ended('Your account is deleted.');
    });
  });
}
