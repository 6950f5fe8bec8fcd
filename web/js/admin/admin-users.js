// The admin page's Users section: the user list a page at a time (GET /admin/users, "Load
// more" follows `next`), a filter over the loaded rows, and per user a password reset, suspend
// or unsuspend, disconnect and delete; and a form that creates a user (POST /admin/users).
// The loaded users are shared with the world section (`shared.users`), which offers them for a
// mute.

import { app, toast } from '../app.js';
import { avatar, h, plural } from '../dom.js';
import { adminApi } from './admin-api.js';
import { busy, copyField, errorLine, section, when } from './admin-ui.js';

const PAGE = 100;

export function usersSection(shared) {
  let next = null;
  let loadedAll = false;
  const s = section('admin-users', 'Users', { refresh: () => load() });

  const createForm = h('form', { class: 'stack admin-create', 'aria-labelledby': 'admin-create-title' },
    h('h4', { id: 'admin-create-title', text: 'Create a user' }),
    h('label', {}, 'Username ', h('input', { name: 'username', required: true, minlength: 3, maxlength: 32, pattern: '[a-z0-9_.\\-]+', title: '3 to 32 of a-z 0-9 _ . -', autocomplete: 'off' })),
    h('label', {}, 'Display name (optional) ', h('input', { name: 'display_name', maxlength: 64, autocomplete: 'off' })),
    h('label', {}, 'Password ', h('input', { name: 'password', type: 'password', required: true, minlength: 8, maxlength: 128, autocomplete: 'new-password' })),
    h('p', { class: 'sub', text: 'Works whatever auth.registration says. Tell the person their username and password; they can change the password in their settings.' }),
    h('button', { type: 'submit', text: 'Create user' }));
  const createError = errorLine();
  createForm.append(createError);
  createForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const d = Object.fromEntries(new FormData(createForm));
    busy(createForm.querySelector('button[type=submit]'), createError, async () => {
      const r = await adminApi.createUser(d.username, d.password, d.display_name.trim());
      createForm.reset();
      toast(`@${r.user.username} is created.`);
      // Ids ascend: a new user belongs at the end, which is on the page once every page is.
      if (loadedAll) {
        shared.users.set(r.user.user_id, { guest: false, bot: false, online: false, suspended: false, admin: false, ...r.user });
        render();
        shared.changed();
      }
    });
  });

  const filter = h('input', { type: 'search', 'aria-label': 'Filter the loaded users', placeholder: 'Filter by name or id', autocomplete: 'off' });
  filter.addEventListener('input', () => render());
  const count = h('p', { class: 'sub', 'aria-live': 'polite' });
  const list = h('ul', { class: 'people admin-users', 'aria-label': 'Users' });
  const more = h('button', { type: 'button', text: 'Load more', hidden: true, onclick: () => load(next) });
  s.body.append(filter, count, list, more, createForm);

  function tags(u) {
    const out = [];
    if (u.admin) out.push('admin');
    if (u.guest) out.push('guest');
    if (u.bot) out.push('bot');
    if (u.suspended) out.push('suspended');
    if (u.online) out.push('online');
    return out.map((t) => h('span', { class: `admin-tag tag-${t}`, text: t }));
  }

  function update(uid, fields) {
    const u = shared.users.get(uid);
    if (u) Object.assign(u, fields);
    render();
    shared.changed();
  }

  // The reset token, shown once under the user's row until the admin dismisses it.
  function showReset(row, u, r) {
    const old = row.querySelector('.admin-reset');
    if (old) old.remove();
    const box = h('div', { class: 'admin-reset stack', role: 'status' },
      h('p', { text: `Reset token for @${u.username}, valid once until ${when(r.expires_at)}. It is shown only now:` }),
      copyField('Reset token', r.reset_token),
      h('p', { class: 'sub', text: `Give it to ${u.display_name || u.username} privately. They choose a new password with it under “Reset a password” on the log-in page (POST /api/v1/auth/reset); every session they have ends then.` }),
      h('button', { type: 'button', class: 'ghost', text: 'Done', onclick: () => box.remove() }));
    row.append(box);
  }

  function actions(u, row, line) {
    const name = u.display_name || u.username;
    const me = app.store && app.store.me && app.store.me.user_id === u.user_id;
    const act = (text, label, fn, cls = '') => h('button', {
      type: 'button', class: cls, text, 'aria-label': `${label} ${name}`,
      onclick: (ev) => busy(ev.currentTarget, line, fn),
    });
    const out = [];
    if (!u.guest && !u.bot) {
      out.push(act('Reset password', 'Reset password for', async () => showReset(row, u, await adminApi.passwordReset(u.user_id))));
    }
    out.push(act('Disconnect', 'Disconnect', async () => {
      const r = await adminApi.disconnect(u.user_id);
      toast(r.was_online ? `${name} is disconnected.` : `${name} was not connected.`);
      update(u.user_id, { online: false });
    }, 'ghost'));
    if (me) return out; // the server refuses to suspend or delete oneself
    if (u.suspended) {
      out.push(act('Unsuspend', 'Unsuspend', async () => {
        await adminApi.unsuspend(u.user_id);
        toast(`${name} may log in again.`);
        update(u.user_id, { suspended: false });
      }));
    } else {
      out.push(act('Suspend', 'Suspend', async () => {
        if (!window.confirm(`Suspend ${name}? Every session of theirs ends and they cannot log in until you unsuspend them.`)) return;
        await adminApi.suspend(u.user_id);
        toast(`${name} is suspended.`);
        update(u.user_id, { suspended: true, online: false });
      }, 'danger'));
    }
    out.push(act('Delete', 'Delete', async () => {
      if (!window.confirm(`Delete ${name} (@${u.username}) for good? Their messages stay; the account, friendships and memberships go.`)) return;
      await adminApi.deleteUser(u.user_id);
      toast(`${name} is deleted.`);
      shared.users.delete(u.user_id);
      render();
      shared.changed();
    }, 'danger'));
    return out;
  }

  function render() {
    const q = filter.value.trim().toLowerCase();
    const all = [...shared.users.values()];
    const shown = q ? all.filter((u) => [u.username, u.display_name, u.user_id].some((x) => String(x || '').toLowerCase().includes(q))) : all;
    list.replaceChildren(...shown.map((u) => {
      const name = u.display_name || u.username;
      const line = errorLine();
      const row = h('li', { class: 'person admin-user', dataset: { uid: u.user_id, username: u.username } },
        avatar(u.user_id, name),
        h('span', { class: 'person-name' }, h('strong', { text: name }), ' ',
          h('span', { class: 'sub', text: `@${u.username} · id ${u.user_id}${u.created_ms ? ` · since ${when(u.created_ms)}` : ''}` }), ' ', ...tags(u)),
        h('span', { class: 'person-actions' }),
        line);
      row.querySelector('.person-actions').append(...actions(u, row, line));
      return row;
    }));
    count.textContent = q ? `${shown.length} of ${plural(all.length, 'loaded user')}` : `${plural(all.length, 'user')}${loadedAll ? '' : ' loaded'}`;
    more.hidden = loadedAll;
  }

  async function load(after = null) {
    s.line.show(null);
    try {
      const r = await adminApi.users(after, PAGE);
      if (!after) shared.users.clear();
      for (const u of r.users || []) shared.users.set(u.user_id, u);
      next = r.next || null;
      loadedAll = !next;
    } catch (e) {
      s.line.show(e);
      return;
    }
    render();
    shared.changed();
  }

  return { el: s.el, load };
}
