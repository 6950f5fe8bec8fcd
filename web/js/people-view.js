// Friends (find, requests, remove, chat) and groups (create, the public directory). A group's
// own settings and members are group-settings-view.js.

import { app, explain, toast } from './app.js';
import { $, avatar, h, icon, plural } from './dom.js';
import { blockButton } from './account-view.js';

export function personRow(u, online, ...buttons) {
  const name = u.display_name || u.username || '';
  return h('li', { class: 'person' },
    h('span', { class: 'avatar-wrap' }, avatar(u.user_id, name),
      h('span', { class: `dot presence${online ? ' on' : ''}`, title: online ? 'online' : 'offline' })),
    h('span', { class: 'person-name' }, h('strong', { text: name }),
      u.guest ? h('span', { class: 'guest-tag', text: 'guest' }) : null,
      u.bot ? h('span', { class: 'bot-tag', text: 'bot' }) : null, ' ',
      u.username ? h('span', { class: 'sub', text: `@${u.username}` }) : null),
    h('span', { class: 'person-actions' }, ...buttons));
}

export function renderFriends() {
  const store = app.store;
  if (!store || store.me.guest) return;
  const friends = [...store.friends.values()];
  $('friend-list').replaceChildren(...(friends.length ? friends.map((u) => personRow(u, !!u.online,
    h('button', { type: 'button', onclick: () => chatWith(u.user_id), 'aria-label': `Chat with ${u.display_name || u.username}`, text: 'Chat' }),
    h('button', { type: 'button', class: 'ghost', 'aria-label': `Remove ${u.display_name || u.username} from friends`,
      onclick: async () => {
        if (!window.confirm(`Remove ${u.display_name || u.username} from your friends?`)) return;
        try { await app.api.unfriend(u.user_id); await store.loadFriends(); } catch (e) { toast(explain(e)); }
      },
      text: 'Remove' }),
    blockButton(u, () => renderFriends()))) : [h('li', { class: 'sub', text: 'No friends yet. Find people above.' })]));
  const incoming = store.requests.incoming || [];
  $('incoming').replaceChildren(...incoming.map((r) => {
    const u = store.users.get(r.from_user_id) || { user_id: r.from_user_id, username: '', display_name: store.name(r.from_user_id) };
    const row = personRow(u, store.online(r.from_user_id),
      h('button', { type: 'button', class: 'primary', 'aria-label': `Accept ${store.name(r.from_user_id)}`, onclick: () => answer(r, true), text: 'Accept' }),
      h('button', { type: 'button', 'aria-label': `Reject ${store.name(r.from_user_id)}`, onclick: () => answer(r, false), text: 'Reject' }));
    if (r.note) row.append(h('p', { class: 'note', text: r.note }));
    return row;
  }));
  const outgoing = store.requests.outgoing || [];
  $('outgoing').replaceChildren(...outgoing.map((r) => {
    const u = store.users.get(r.to_user_id) || { user_id: r.to_user_id, username: '', display_name: store.name(r.to_user_id) };
    return personRow(u, store.online(r.to_user_id), h('span', { class: 'sub', text: 'request sent' }));
  }));
  const badge = $('req-badge');
  badge.hidden = incoming.length === 0;
  badge.textContent = String(incoming.length);
  badge.setAttribute('aria-label', `${incoming.length} friend requests`);
  renderGroupForm();
}

async function answer(r, accept) {
  const store = app.store;
  try {
    await app.api.answerRequest(r.request_id, accept);
    toast(accept ? `You and ${store.name(r.from_user_id)} are friends.` : 'Request rejected.');
    await Promise.all([store.loadRequests(), store.loadFriends()]);
  } catch (e) {
    toast(explain(e));
  }
}

async function chatWith(uid) {
  try {
    const c = await app.store.directWith(uid);
    app.selectSide('side-chats');
    app.openConversation(c.id);
  } catch (e) {
    toast(explain(e));
  }
}

async function findPeople(ev) {
  if (ev) ev.preventDefault();
  const store = app.store;
  const q = $('find-input').value.trim().replace(/^@/, '');
  if (!q) return;
  try {
    const r = await app.api.findUsers(q);
    const people = r.users.filter((u) => u.user_id !== store.me.user_id);
    for (const u of people) store.rememberUser(u);
    $('find-results').replaceChildren(...(people.length ? people.map((u) => {
      const isFriend = store.friends.has(u.user_id);
      return personRow(u, !!u.online, isFriend
        ? h('button', { type: 'button', onclick: () => chatWith(u.user_id), text: 'Chat' })
        : h('button', {
          type: 'button', 'aria-label': `Add friend ${u.username}`,
          onclick: async (e2) => {
            try {
              await app.api.requestFriend(u.user_id);
              e2.target.disabled = true;
              e2.target.textContent = 'Requested';
              await Promise.all([store.loadRequests(), store.loadFriends()]);
            } catch (e) { toast(explain(e)); }
          },
          text: 'Add friend' }),
        blockButton(u, () => findPeople(null)));
    }) : [h('li', { class: 'sub', text: 'Nobody found.' })]));
  } catch (e) {
    toast(explain(e));
  }
}

// ---- groups --------------------------------------------------------------------------------
function renderGroupForm() {
  const box = $('group-members');
  const checked = new Set([...box.querySelectorAll('input:checked')].map((i) => i.value));
  const friends = [...app.store.friends.values()];
  box.replaceChildren(h('legend', { text: 'Members from your friends' }),
    ...(friends.length ? friends.map((u) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'member', value: u.user_id, checked: checked.has(u.user_id) }),
      ` ${u.display_name || u.username}`)) : [h('p', { class: 'sub', text: 'Add friends to invite them.' })]));
}

async function createGroup(ev) {
  ev.preventDefault();
  const f = ev.target;
  const ids = [...f.querySelectorAll('input[name=member]:checked')].map((i) => i.value);
  try {
    const r = await app.api.createGroup(f.elements.name.value.trim(), ids, f.elements.public.checked);
    f.reset();
    renderGroupForm();
    await app.store.loadConversations();
    toast(`Group “${r.group.name}” created.`);
    app.selectSide('side-chats');
    app.openConversation(r.group.conversation_id);
  } catch (e) {
    toast(explain(e));
  }
}

// The directory of public groups: search by name, join (or open) with one click.
async function searchDirectory(ev) {
  if (ev) ev.preventDefault();
  const store = app.store;
  const q = $('directory-input').value.trim();
  const list = $('directory-results');
  list.replaceChildren(h('li', { class: 'sub', text: 'Searching…' }));
  try {
    const r = await app.api.publicGroups(q);
    list.replaceChildren(...(r.groups.length ? r.groups.map((g) => {
      const joined = !!store.conv(g.conversation_id);
      return h('li', { class: 'person group-hit' },
        h('span', { class: 'avatar group', 'aria-hidden': 'true' }, icon('hash')),
        h('span', { class: 'person-name' }, h('strong', { text: g.name }), ' ',
          h('span', { class: 'sub', text: plural(g.member_count, 'member') })),
        h('span', { class: 'person-actions' }, joined
          ? h('button', { type: 'button', 'aria-label': `Open ${g.name}`, text: 'Open',
            onclick: () => { app.selectSide('side-chats'); app.openConversation(g.conversation_id); } })
          : h('button', { type: 'button', class: 'primary', 'aria-label': `Join ${g.name}`, text: 'Join',
            onclick: () => joinGroup(g) })));
    }) : [h('li', { class: 'sub', text: q ? 'No public group has that in its name.' : 'No public groups yet.' })]));
  } catch (e) {
    list.replaceChildren(h('li', { class: 'error', text: explain(e) }));
  }
}

async function joinGroup(g) {
  try {
    const r = await app.api.joinGroup(g.group_id);
    await app.store.loadConversations();
    toast(`You joined “${r.group.name}”.`);
    app.selectSide('side-chats');
    app.openConversation(r.group.conversation_id);
  } catch (e) {
    toast(explain(e));
  }
}

export function setupPeople() {
  $('find-form').addEventListener('submit', findPeople);
  $('group-form').addEventListener('submit', createGroup);
  $('directory-form').addEventListener('submit', searchDirectory);
}

export function openDirectory() { searchDirectory(); }
