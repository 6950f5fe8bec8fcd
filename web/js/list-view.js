// The conversation list: world, groups and direct chats, most recent first, with the last
// message, unread and mention badges (grey when muted), presence, and the keyboard.

import { app } from './app.js';
import { $, avatar, h, icon, shortWhen } from './dom.js';
import { setFaviconBadge } from './notify.js';

export function convTitle(c) {
  return c.kind === 'direct' && c.peer_id ? app.store.name(c.peer_id) : c.title;
}

function convPreview(c) {
  const store = app.store;
  const m = c.last_message;
  if (!m) return 'No messages yet';
  const who = m.sender_id === store.me.user_id ? 'You' : store.name(m.sender_id);
  const b = m.body || {};
  if (b.type === 'edit') return `${who} edited a message`;
  if (b.type === 'recall') return `${who} recalled a message`;
  if (b.type === 'reaction') return `${who} reacted ${b.op === 'add' ? b.emoji : ''}`.trim();
  if (b.type === 'file' && !m.recalled) return `${who}: 📎 ${(b.file && b.file.name) || 'a file'}`;
  const text = m.recalled ? 'message recalled' : b.text || '';
  return `${who}: ${text}`;
}

function convAvatar(c) {
  const store = app.store;
  if (c.kind === 'direct') {
    const on = store.online(c.peer_id);
    return h('span', { class: 'avatar-wrap' }, avatar(c.peer_id, store.name(c.peer_id)),
      h('span', { class: `dot presence${on ? ' on' : ''}`, title: on ? 'online' : 'offline' }));
  }
  return h('span', { class: `avatar ${c.kind}`, 'aria-hidden': 'true' }, icon(c.kind === 'world' ? 'globe' : 'hash'));
}

// Rows are kept by conversation and rebuilt only when what they show changes, so that a click
// never lands on a button that a re-render replaced between mouse down and up.
const rows = new Map(); // cid -> {li, sig}

function rowOf(c) {
  const store = app.store;
  const ui = app.ui;
  const unread = store.unread(c);
  const muted = store.isMuted(c);
  const title = convTitle(c);
  const active = !!(ui.active && ui.active.id === c.id);
  const online = c.kind === 'direct' && store.online(c.peer_id);
  const preview = convPreview(c);
  const when = c.last_message ? shortWhen(c.last_message.ts) : '';
  const avatarName = c.kind === 'direct' ? store.name(c.peer_id) : '';
  const sig = JSON.stringify([unread, muted, title, active, online, preview, when, c.mentions_unread, avatarName]);
  const old = rows.get(c.id);
  if (old && old.sig === sig) return old.li;
  // The button's name is its content (what one sees, so that speech input finds it), with
  // the words a glance gets from colours and dots added for screen readers.
  const btn = h('button', {
    type: 'button', class: `conv${active ? ' active' : ''}${muted ? ' muted' : ''}`,
    'aria-current': active ? 'true' : false, dataset: { cid: c.id },
    onclick: () => app.openConversation(c.id),
    onkeydown: listKeys,
  },
  convAvatar(c),
  h('span', { class: 'conv-main' },
    h('span', { class: 'conv-title' }, h('span', { class: 'conv-name', text: title }),
      muted ? icon('bellOff', 'muted-icon') : null,
      h('span', { class: 'sr-only', text: `${muted ? ', muted' : ''}${c.kind === 'direct' ? (online ? ', online' : ', offline') : ''},` })),
    h('span', { class: 'conv-last', text: preview })),
  h('span', { class: 'conv-side' },
    h('span', { class: 'conv-time', text: when }),
    h('span', { class: 'badges' },
      c.mentions_unread ? h('span', { class: `badge mention${muted ? ' muted' : ''}`, title: 'mentions' }, `@${c.mentions_unread}`,
        h('span', { class: 'sr-only', text: c.mentions_unread > 1 ? ' mentions' : ' mention' })) : null,
      unread ? h('span', { class: `badge unread${muted ? ' muted' : ''}` }, String(unread), h('span', { class: 'sr-only', text: ' unread' })) : null)));
  const li = h('li', {}, btn);
  if (old) {
    const hadFocus = old.li.contains(document.activeElement);
    old.li.replaceWith(li);
    if (hadFocus) btn.focus();
  }
  rows.set(c.id, { li, sig });
  return li;
}

export function resetList() {
  rows.clear();
  $('conv-list').replaceChildren();
}

export function renderList() {
  const store = app.store;
  const ui = app.ui;
  const list = $('conv-list');
  const wanted = [];
  let total = 0;
  for (const cid of store.order) {
    const c = store.conv(cid);
    if (!c) continue;
    if (!(ui.active && ui.active.id === c.id) && !store.isMuted(c)) total += store.unread(c);
    wanted.push([cid, rowOf(c)]);
  }
  const keep = new Set(wanted.map(([cid]) => cid));
  for (const [cid, r] of rows) {
    if (!keep.has(cid)) {
      r.li.remove();
      rows.delete(cid);
    }
  }
  let prev = null;
  for (const [, li] of wanted) {
    const want = prev ? prev.nextSibling : list.firstChild;
    if (want !== li) list.insertBefore(li, want);
    prev = li;
  }
  document.title = total ? `(${total}) monochat` : 'monochat';
  setFaviconBadge(total);
}

// Arrow keys move between conversations; Enter opens one (a native button).
function listKeys(ev) {
  const all = [...$('conv-list').querySelectorAll('button.conv')];
  const i = all.indexOf(ev.currentTarget);
  let j = null;
  if (ev.key === 'ArrowDown') j = Math.min(all.length - 1, i + 1);
  if (ev.key === 'ArrowUp') j = Math.max(0, i - 1);
  if (ev.key === 'Home') j = 0;
  if (ev.key === 'End') j = all.length - 1;
  if (j !== null) {
    ev.preventDefault();
    all[j].focus();
  }
}
