// The message box: Enter sends, Shift+Enter is a new line, Up edits one's last message, Escape
// cancels; typing notices; an emoji button; and @mention autocomplete over the conversation's
// members, by display name and username (a listbox the arrows, Enter and Tab drive).

import { app, toast, explain } from './app.js';
import { $, avatar, h } from './dom.js';
import { openPicker } from './emoji-picker.js';
import { cancelContext, messageList, renderContextBar, sendOp, startEdit } from './chat-view.js';

const MAX_SUGGESTIONS = 8;
const picked = new Map(); // lower-case username -> user id, chosen from the suggestions
let suggest = null; // { start, items, active }

// The users one may mention in `c`: a group's members, a direct chat's peer, in `world` the
// people seen there and those a username search finds.
async function candidates(c, query) {
  const store = app.store;
  const ids = new Set();
  if (c.kind === 'group') {
    if (!c.memberIds || Date.now() - c.memberIdsAt > 60000) {
      const gid = c.group_id || c.id.slice(6);
      const all = [];
      let after = null;
      for (let i = 0; i < 5; i++) {
        const r = await app.api.members(gid, after);
        all.push(...r.members.map((m) => m.user_id));
        if (!r.next) break;
        after = r.next;
      }
      c.memberIds = all;
      c.memberIdsAt = Date.now();
    }
    for (const id of c.memberIds) ids.add(id);
  } else if (c.kind === 'direct') {
    ids.add(c.peer_id);
  } else {
    for (const m of c.msgs.values()) ids.add(m.sender_id);
    if (query && !store.me.guest) {
      try {
        const r = await app.api.findUsers(query);
        for (const u of r.users) { store.rememberUser(u); ids.add(u.user_id); }
      } catch (e) { /* the ones seen here are still offered */ }
    }
  }
  ids.delete(store.me.user_id);
  const missing = [...ids].filter((id) => !store.users.has(id)).slice(0, 50);
  await Promise.all(missing.map((id) => app.api.user(id).then((r) => store.rememberUser(r.user)).catch(() => {})));
  return [...ids].map((id) => store.users.get(id)).filter((u) => u && u.username && !u.deleted);
}

function matches(u, q) {
  if (!q) return true;
  const name = (u.display_name || '').toLowerCase();
  return u.username.toLowerCase().startsWith(q) || name.startsWith(q) ||
    name.split(/\s+/).some((w) => w.startsWith(q));
}

// The `@word` being typed just before the caret, if any.
function mentionAtCaret(input) {
  const upto = input.value.slice(0, input.selectionStart);
  const m = /(^|\s)@([\p{L}\p{N}_.-]{0,32})$/u.exec(upto);
  if (!m) return null;
  return { start: upto.length - m[2].length - 1, query: m[2].toLowerCase() };
}

function closeSuggest() {
  suggest = null;
  $('mention-list').hidden = true;
  $('mention-list').replaceChildren();
  $('composer-text').removeAttribute('aria-activedescendant');
}

function renderSuggest() {
  const box = $('mention-list');
  if (!suggest || !suggest.items.length) {
    closeSuggest();
    return;
  }
  box.replaceChildren(...suggest.items.map((u, i) => h('li', {
    id: `mention-opt-${i}`, role: 'option', class: 'mention-opt', 'aria-selected': String(i === suggest.active),
    onmousedown: (ev) => { ev.preventDefault(); choose(i); },
  }, avatar(u.user_id, u.display_name || u.username, 'small'),
  h('span', { class: 'opt-name', text: u.display_name || u.username }),
  u.guest ? h('span', { class: 'guest-tag', text: 'guest' }) : null,
  u.bot ? h('span', { class: 'bot-tag', text: 'bot' }) : null,
  h('span', { class: 'sub', text: `@${u.username}` }))));
  box.hidden = false;
  $('composer-text').setAttribute('aria-activedescendant', `mention-opt-${suggest.active}`);
}

async function updateSuggest() {
  const input = $('composer-text');
  const c = app.ui.active;
  const at = c ? mentionAtCaret(input) : null;
  if (!at) {
    closeSuggest();
    return;
  }
  const token = (updateSuggest.token || 0) + 1;
  updateSuggest.token = token;
  let users;
  try {
    users = await candidates(c, at.query);
  } catch (e) {
    users = [];
  }
  if (updateSuggest.token !== token || app.ui.active !== c) return;
  const items = users.filter((u) => matches(u, at.query))
    .sort((a, b) => (a.display_name || a.username).localeCompare(b.display_name || b.username))
    .slice(0, MAX_SUGGESTIONS);
  suggest = { start: at.start, items, active: 0 };
  renderSuggest();
}

function choose(i) {
  const input = $('composer-text');
  const u = suggest && suggest.items[i];
  if (!u) return;
  const before = input.value.slice(0, suggest.start);
  const after = input.value.slice(input.selectionStart);
  const insert = `@${u.username} `;
  input.value = before + insert + after;
  const caret = before.length + insert.length;
  input.setSelectionRange(caret, caret);
  picked.set(u.username.toLowerCase(), u.user_id);
  closeSuggest();
  input.focus();
}

// @username words that name a user become the message's `mentions`; names not seen yet are
// looked up (an exact username match) before the message goes out.
async function mentionsIn(text) {
  const store = app.store;
  const ids = new Set();
  const byName = () => {
    const m = new Map(picked);
    for (const u of store.users.values()) if (u.username) m.set(u.username.toLowerCase(), u.user_id);
    return m;
  };
  const words = [...new Set([...text.matchAll(/@([a-z0-9_.-]{3,32})/gi)].map((mt) => mt[1].toLowerCase()))].slice(0, 50);
  let known = byName();
  const unknown = words.filter((w) => !known.has(w));
  if (unknown.length && !store.me.guest) {
    await Promise.all(unknown.slice(0, 10).map((w) => app.api.findUsers(w).then((r) => {
      for (const u of r.users) store.rememberUser(u);
    }).catch(() => {})));
    known = byName();
  }
  for (const w of words) if (known.has(w)) ids.add(known.get(w));
  return [...ids];
}

function autoGrow() {
  const t = $('composer-text');
  t.style.height = 'auto';
  t.style.height = `${Math.min(160, t.scrollHeight)}px`;
}

async function submitComposer(ev) {
  ev.preventDefault();
  const ui = app.ui;
  const c = ui.active;
  const input = $('composer-text');
  const text = input.value.trim();
  closeSuggest();
  if (!c || !text) return;
  if (ui.edit !== null) {
    const seq = ui.edit;
    input.value = '';
    cancelContext();
    await sendOp(c, { type: 'edit', target_seq: seq, text });
    return;
  }
  const body = { type: 'text', text };
  if (ui.reply !== null) body.reply_to = ui.reply;
  input.value = '';
  const mentions = await mentionsIn(text);
  if (mentions.length) body.mentions = mentions;
  autoGrow();
  ui.reply = null;
  renderContextBar();
  messageList().stick = true;
  try {
    await app.store.send(c, body);
  } catch (e) {
    toast(explain(e));
  }
}

export function setupComposer() {
  const input = $('composer-text');
  $('composer').addEventListener('submit', submitComposer);
  input.addEventListener('keydown', (ev) => {
    if (suggest && suggest.items.length) {
      if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
        ev.preventDefault();
        const n = suggest.items.length;
        suggest.active = (suggest.active + (ev.key === 'ArrowDown' ? 1 : n - 1)) % n;
        renderSuggest();
        return;
      }
      if ((ev.key === 'Enter' && !ev.shiftKey) || ev.key === 'Tab') {
        ev.preventDefault();
        choose(suggest.active);
        return;
      }
      if (ev.key === 'Escape') {
        ev.preventDefault();
        closeSuggest();
        return;
      }
    }
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      $('composer').requestSubmit();
    } else if (ev.key === 'Escape') {
      cancelContext();
    } else if (ev.key === 'ArrowUp' && !ev.target.value && app.ui.active) {
      // Up in an empty box edits one's last message.
      const c = app.ui.active;
      const store = app.store;
      const mine = [...c.msgs.values()].filter((m) => m.sender_id === store.me.user_id && m.body.type === 'text' && !m.recalled);
      if (mine.length) {
        ev.preventDefault();
        startEdit(c, mine.sort((a, b) => a.seq - b.seq)[mine.length - 1]);
      }
    }
  });
  input.addEventListener('input', () => {
    autoGrow();
    updateSuggest();
    const c = app.ui.active;
    const conn = app.conn;
    if (!c || !conn || app.ui.edit !== null) return;
    const now = Date.now();
    if (now - app.ui.lastTypingSent > 2500 && input.value.trim()) {
      app.ui.lastTypingSent = now;
      conn.send({ type: 'typing', conversation_id: c.id });
    }
  });
  input.addEventListener('blur', () => setTimeout(closeSuggest, 150));
  $('emoji-button').addEventListener('click', (ev) => {
    openPicker(ev.currentTarget, (emoji) => {
      const start = input.selectionStart ?? input.value.length;
      const end = input.selectionEnd ?? input.value.length;
      input.value = input.value.slice(0, start) + emoji + input.value.slice(end);
      input.focus();
      input.setSelectionRange(start + emoji.length, start + emoji.length);
      autoGrow();
    }, 'Insert an emoji');
  });
  $('context-cancel').addEventListener('click', cancelContext);
}

export function resetComposer() {
  picked.clear();
  closeSuggest();
}
