// The open conversation: its header (presence, mute, members), the windowed message list with
// date separators, the unread divider and a "N new" button, each message's actions (reply,
// reactions with the full emoji picker, edit, recall), read receipts, typing, and reading rules:
// a conversation is marked read only while its bottom is on screen and the tab is visible.

import { app, explain, isPhone, toast } from './app.js';
import { $, avatar, h, icon, plural, timeOf } from './dom.js';
import { closePicker, openPicker } from './emoji-picker.js';
import { fileContent, renderUploadTray } from './files.js';
import { convTitle, renderList } from './list-view.js';
import { MessageList } from './message-list.js';
import { mentionText, richText } from './text.js';

const QUICK_EMOJI = ['👍', '❤️', '😂', '🎉'];

let list = null;
let hotKey = null; // the row showing its actions (hovered or focused)

export function messageList() { return list; }

// ---- rows ----------------------------------------------------------------------------------
function nameWithTag(uid, mine) {
  const store = app.store;
  return h('span', { class: 'who' }, mine ? 'You' : store.name(uid),
    // A guest may take any display name: the tag keeps a guest "Bob" apart from the user Bob.
    !mine && store.isGuest(uid) ? h('span', { class: 'guest-tag', text: 'guest' }) : null,
    // Bots (issue 21) are programs: the badge says so wherever their messages appear.
    !mine && store.isBot(uid) ? h('span', { class: 'bot-tag', text: 'bot' }) : null);
}

function mentionNames(mentions) {
  const store = app.store;
  const names = new Set();
  for (const uid of mentions || []) {
    const u = uid === store.me.user_id ? store.me : store.users.get(uid);
    if (u && u.username) names.add(u.username.toLowerCase());
  }
  return names;
}

function textOf(body) {
  const store = app.store;
  const mine = store.me.username ? store.me.username.toLowerCase() : '';
  return richText(body.text || '', mentionText(mentionNames(body.mentions), mine));
}

function reactorsLabel(r) {
  const names = (r.users || []).map((u) => app.store.name(u));
  const more = r.count - names.length;
  return more > 0 ? `${names.join(', ')} and ${more} more` : names.join(', ');
}

function statusEl(c, m) {
  const rs = app.store.readState(c, m);
  if (c.kind !== 'world' && rs.n) {
    return h('span', { class: 'status read', dataset: { status: 'read' } }, icon('checks'), ` ${rs.label}`);
  }
  return h('span', { class: 'status sent', dataset: { status: 'sent' } }, icon('check'), ' sent');
}

function actionsFor(c, m) {
  const store = app.store;
  const mine = m.sender_id === store.me.user_id;
  const reactions = m.reactions || {};
  return h('div', { class: 'actions', role: 'group', 'aria-label': 'Message actions' },
    h('button', { type: 'button', 'aria-label': 'Reply', title: 'Reply', onclick: () => startReply(c, m) }, icon('reply')),
    QUICK_EMOJI.map((e) => h('button', {
      type: 'button', class: 'quick', 'aria-label': `React ${e}`, title: `React ${e}`,
      onclick: () => react(c, m, e, reactions[e] && reactions[e].me ? 'remove' : 'add'),
    }, e)),
    h('button', {
      type: 'button', 'aria-label': 'More reactions', title: 'More reactions',
      onclick: (ev) => openPicker(ev.currentTarget, (e) => react(c, m, e, reactions[e] && reactions[e].me ? 'remove' : 'add'), 'Pick a reaction'),
    }, icon('smile')),
    mine && m.body.type === 'text' ? h('button', { type: 'button', 'aria-label': 'Edit', title: 'Edit', onclick: () => startEdit(c, m) }, icon('edit')) : null,
    mine || canModerate(c) ? h('button', { type: 'button', 'aria-label': 'Recall', title: 'Recall', onclick: () => recall(c, m) }, icon('trash')) : null);
}

function showActions(li, row) {
  if (row.kind !== 'msg' || row.m.recalled || li.querySelector('.actions')) return;
  hotKey = row.key;
  li.append(actionsFor(app.ui.active, row.m));
}

function hideActions(li) {
  if (li.matches(':hover') || li.contains(document.activeElement)) return;
  const a = li.querySelector('.actions');
  if (a) a.remove();
  if (hotKey === li.dataset.key) hotKey = null;
}

function renderMessage(c, row) {
  const store = app.store;
  const m = row.m;
  const mine = m.sender_id === store.me.user_id;
  const li = h('li', {
    class: `msg${mine ? ' mine' : ''}${row.grouped ? ' grouped' : ''}${store.isMention(m) ? ' mentioned' : ''}${m.recalled ? ' recalled' : ''}`,
    dataset: { seq: String(m.seq) }, tabindex: '-1',
  });
  const bubble = h('div', { class: 'bubble' });
  if (!mine) li.append(row.grouped ? h('span', { class: 'gutter' }) : avatar(m.sender_id, store.name(m.sender_id)));
  li.append(bubble);
  const when = h('time', { datetime: new Date(m.ts).toISOString(), title: new Date(m.ts).toLocaleString(), text: timeOf(m.ts) });
  if (!row.grouped) {
    bubble.append(h('div', { class: 'meta' }, nameWithTag(m.sender_id, mine), when,
      m.edited_at && !m.recalled ? h('span', { class: 'edited', text: '(edited)' }) : null));
  } else {
    // Grouped under the previous message's name and time; screen readers still hear them.
    bubble.append(h('span', { class: 'sr-only' }, `${mine ? 'You' : store.name(m.sender_id)}, ${timeOf(m.ts)}`));
    if (m.edited_at && !m.recalled) bubble.append(h('span', { class: 'edited floating', text: '(edited)' }));
  }
  if (m.body.reply_to) {
    const t = c.msgs.get(m.body.reply_to);
    const quoted = t ? (t.recalled ? 'message recalled' : (t.body.text || '')) : `message ${m.body.reply_to}`;
    bubble.append(h('button', {
      type: 'button', class: 'quote', 'aria-label': `In reply to ${t ? store.name(t.sender_id) : ''} ${quoted.slice(0, 120)}`,
      onclick: () => revealSeq(c, m.body.reply_to).then(() => focusSeq(m.body.reply_to)),
    }, h('strong', { text: t ? store.name(t.sender_id) : '' }), ' ', quoted.slice(0, 120)));
  }
  if (m.recalled) bubble.append(h('p', { class: 'text recalled-text', text: 'This message was recalled.' }));
  else if (m.body.type === 'file') {
    bubble.append(fileContent(m.body));
    if (m.body.caption) bubble.append(h('p', { class: 'text' }, textOf({ text: m.body.caption })));
  } else bubble.append(h('p', { class: 'text' }, textOf(m.body)));
  const rx = Object.entries(m.reactions || {});
  if (rx.length) {
    bubble.append(h('div', { class: 'reactions' }, rx.map(([emoji, r]) => h('button', {
      type: 'button', class: `reaction${r.me ? ' mine' : ''}`, 'aria-pressed': String(!!r.me),
      title: reactorsLabel(r),
      'aria-label': `${emoji} ${r.count}, ${r.me ? 'remove yours' : 'add yours'}`,
      onclick: () => react(c, m, emoji, r.me ? 'remove' : 'add'),
    }, `${emoji} ${r.count}`))));
  }
  if (mine) bubble.append(statusEl(c, m));
  li.addEventListener('mouseenter', () => showActions(li, row));
  li.addEventListener('focusin', () => showActions(li, row));
  li.addEventListener('mouseleave', () => hideActions(li));
  li.addEventListener('focusout', () => setTimeout(() => hideActions(li), 0));
  if (hotKey === row.key) showActions(li, row);
  return li;
}

function renderPending(c, p, grouped) {
  const li = h('li', { class: `msg mine pending ${p.status}${grouped ? ' grouped' : ''}`, dataset: { cmid: p.cmid }, tabindex: '-1' });
  const bubble = h('div', { class: 'bubble' });
  li.append(bubble);
  if (!grouped) bubble.append(h('div', { class: 'meta' }, h('span', { class: 'who', text: 'You' })));
  if (p.body.reply_to) bubble.append(h('div', { class: 'quote', text: `Reply to message ${p.body.reply_to}` }));
  if (p.body.type === 'file') bubble.append(fileContent(p.body));
  else bubble.append(h('p', { class: 'text' }, textOf(p.body)));
  if (p.status === 'failed') {
    bubble.append(h('span', { class: 'status failed', dataset: { status: 'failed' }, role: 'alert' }, icon('alert'), ` ${p.error || 'Not sent.'}`));
    bubble.append(h('div', { class: 'retry-bar' },
      h('button', { type: 'button', class: 'retry', onclick: () => app.store.retry(c, p.cmid), text: 'Retry' }),
      h('button', { type: 'button', onclick: () => app.store.discard(c, p.cmid), text: 'Discard' })));
  } else {
    bubble.append(h('span', { class: `status ${p.status}`, dataset: { status: p.status } },
      icon(p.status === 'sending' ? 'clock' : 'check'), p.status === 'sending' ? ' sending' : ' sent'));
  }
  return li;
}

function renderRow(row) {
  const c = app.ui.active;
  if (row.kind === 'day') return h('li', { class: 'sep day' }, h('span', { text: row.label }));
  if (row.kind === 'unread') return h('li', { class: 'sep unread-divider' }, h('span', { text: 'New messages' }));
  if (row.kind === 'pending') return renderPending(c, row.p, row.grouped);
  return renderMessage(c, row);
}

function rowSig(row) {
  const store = app.store;
  const c = app.ui.active;
  if (row.kind === 'day') return row.label;
  if (row.kind === 'unread') return 'u';
  if (row.kind === 'pending') return JSON.stringify([row.p.status, row.p.error, row.grouped]);
  const m = row.m;
  const extra = m.sender_id === store.me.user_id ? store.readState(c, m).label : '';
  const t = m.body.reply_to ? c.msgs.get(m.body.reply_to) : null;
  const replySig = t ? JSON.stringify([t.body, t.recalled, store.name(t.sender_id)]) : '';
  return JSON.stringify([m.body, m.recalled, m.edited_at, m.reactions, extra, replySig, row.grouped,
    store.name(m.sender_id), store.isGuest(m.sender_id), c.myRole || '']);
}

// ---- the view ------------------------------------------------------------------------------
export function setupChat() {
  list = new MessageList($('scroller'), $('messages'), { render: renderRow, sig: rowSig });
  $('scroller').addEventListener('scroll', onScroll, { passive: true });
  $('scroller').addEventListener('keydown', messageKeys);
  $('new-messages').addEventListener('click', () => {
    list.toBottom();
    hideNewButton();
    maybeMarkRead();
  });
  $('mute').addEventListener('click', openMuteDialog);
  for (const b of $('mute-dialog').querySelectorAll('button[data-mute]')) {
    b.addEventListener('click', () => chooseMute(b.dataset.mute));
  }
  document.addEventListener('visibilitychange', maybeMarkRead);
  window.addEventListener('resize', () => { if (app.ui.active) list.render(); });
}

export function resetChat() {
  if (list) list.reset();
  hotKey = null;
  hideNewButton();
}

function onScroll() {
  const c = app.ui.active;
  if (!c || !app.store) return;
  list.render();
  if (list.atBottom()) {
    hideNewButton();
    maybeMarkRead();
  }
  if ($('scroller').scrollTop < 400 && c.hasOlder && !c.loadingOlder) {
    app.store.loadOlder(c).catch((e) => toast(explain(e)));
  }
}

function hideNewButton() {
  app.ui.newCount = 0;
  $('new-messages').hidden = true;
}

// A message from someone else arrived in the open conversation.
export function noteIncoming(c, m) {
  if (app.ui.active !== c || m.sender_id === app.store.me.user_id) return;
  if (!list.atBottom(80)) {
    app.ui.newCount += 1;
    const b = $('new-messages');
    b.querySelector('.label').textContent = `${app.ui.newCount} new`;
    b.setAttribute('aria-label', `${plural(app.ui.newCount, 'new message')}, jump to the latest`);
    b.hidden = false;
  } else {
    maybeMarkRead();
  }
}

export function renderChat() {
  const c = app.ui.active;
  renderSendState();
  renderUploadTray();
  renderChatHead();
  if (!c) {
    list.reset();
    $('older-state').textContent = '';
    return;
  }
  renderMessages();
  renderTyping();
}

// The message box: off without a conversation, and in a group where a moderator muted this
// user (with the reason). A mute learnt only from a refused send leaves the box on: it may have
// run out since, and no event says so.
export function renderSendState() {
  const c = app.ui.active;
  const mute = c && app.store ? c.sendMute : null;
  const off = !c || !!(mute && mute.known);
  for (const id of ['composer-text', 'send', 'emoji-button', 'attach-button']) $(id).disabled = off;
  $('composer-text').placeholder = mute && mute.known ? 'You are muted in this group' : 'Write a message…';
  const note = $('send-note');
  note.hidden = !mute;
  if (!mute) {
    note.textContent = '';
  } else if (!mute.known) {
    note.textContent = 'You are muted in this group: a moderator muted you, so your messages are refused. You can still read.';
  } else {
    note.textContent = mute.until === null
      ? 'A moderator muted you in this group until they lift it. You can still read.'
      : `A moderator muted you in this group until ${new Date(mute.until).toLocaleString()}. You can still read.`;
  }
}

export function renderChatHead() {
  const store = app.store;
  const c = app.ui.active;
  if (!c) {
    $('chat-title').textContent = 'Pick a conversation';
    $('chat-sub').textContent = '';
    $('manage').hidden = true;
    $('mute').hidden = true;
    $('chat-avatar').replaceChildren();
    return;
  }
  $('chat-title').textContent = convTitle(c);
  let sub = '';
  if (c.kind === 'direct') sub = store.online(c.peer_id) ? 'online' : 'offline';
  else if (c.kind === 'world') sub = 'everyone, guests included';
  else sub = c.description || 'group';
  if (store.isMuted(c)) sub += ' · muted';
  $('chat-sub').textContent = sub;
  const av = c.kind === 'direct'
    ? h('span', { class: 'avatar-wrap' }, avatar(c.peer_id, store.name(c.peer_id)),
      h('span', { class: `dot presence${store.online(c.peer_id) ? ' on' : ''}`, id: 'chat-dot' }))
    : h('span', { class: `avatar ${c.kind}`, 'aria-hidden': 'true' }, icon(c.kind === 'world' ? 'globe' : 'hash'));
  $('chat-avatar').replaceChildren(av);
  $('manage').hidden = c.kind !== 'group';
  const muted = store.isMuted(c);
  $('mute').hidden = !!store.me.guest;
  $('mute').replaceChildren(icon(muted ? 'bellOff' : 'bell'));
  $('mute').setAttribute('aria-label', muted ? 'Notifications muted: change' : 'Mute notifications');
  $('mute').title = muted ? `Muted until ${muteEnd(c.muted_until)}` : 'Mute notifications';
  $('mute').classList.toggle('on', muted);
}

function muteEnd(until) {
  if (until > Date.now() + 5 * 365 * 86400000) return 'you turn it back on';
  return new Date(until).toLocaleString();
}

export function renderMessages() {
  const store = app.store;
  const c = app.ui.active;
  if (!c) return;
  list.build(c, store.me.user_id, app.ui.dividerSeq);
  $('older-state').textContent = c.held === null ? 'Loading…'
    : c.hasOlder ? 'Scroll up for older messages'
      : (list.rows.length ? 'The beginning of this conversation' : 'No messages yet. Say hello!');
  list.render();
  // A page too short to scroll could never ask for older messages: fetch them now.
  const s = $('scroller');
  if (c.hasOlder && !c.loadingOlder && s.scrollHeight <= s.clientHeight + 60) {
    store.loadOlder(c).catch(() => {});
  }
}

export function renderTyping() {
  const store = app.store;
  const c = app.ui.active;
  if (!c) return;
  const now = Date.now();
  const who = [...c.typing].filter(([, until]) => until > now).map(([uid]) =>
    `${store.name(uid)}${store.isGuest(uid) ? ' (guest)' : ''}`);
  $('typing').textContent = who.length === 0 ? '' : who.length === 1 ? `${who[0]} is typing…`
    : `${who.slice(0, 3).join(', ')} are typing…`;
}

// Marks the open conversation read, only while its bottom is on screen and the tab is visible.
export function maybeMarkRead() {
  const c = app.ui.active;
  if (!c || document.visibilityState === 'hidden' || c.held === null) return;
  if (isPhone() && !document.body.classList.contains('in-chat')) return;
  if (!list.atBottom(40)) return;
  clearTimeout(maybeMarkRead.timer);
  maybeMarkRead.timer = setTimeout(() => {
    if (app.store && app.ui.active === c && document.visibilityState !== 'hidden' && list.atBottom(40)) {
      app.store.markRead(c);
    }
  }, 150);
}

export function focusSeq(seq) {
  const el = list.reveal(`s${seq}`);
  if (el) {
    el.classList.add('flash');
    setTimeout(() => el.classList.remove('flash'), 1600);
    el.focus({ preventScroll: true });
  }
}

// Loads older pages until `seq` is held (bounded).
export async function revealSeq(c, seq) {
  for (let i = 0; i < 60 && c.low !== null && seq < c.low && c.hasOlder; i++) {
    await app.store.loadOlder(c);
  }
  renderMessages();
}

// Keyboard in the message list: Up/Down (and Home/End) move between messages; a focused
// message shows its actions, which Tab then reaches.
function messageKeys(ev) {
  if (!['ArrowUp', 'ArrowDown', 'Home', 'End'].includes(ev.key)) return;
  if (ev.target.closest('button, select, input, textarea, a')) return;
  const all = [...$('messages').querySelectorAll('li.msg')];
  if (!all.length) return;
  const current = ev.target.closest('li.msg');
  let i = current ? all.indexOf(current) : all.length;
  if (ev.key === 'ArrowUp') i = Math.max(0, i - 1);
  if (ev.key === 'ArrowDown') i = Math.min(all.length - 1, i + 1);
  if (ev.key === 'Home') i = 0;
  if (ev.key === 'End') i = all.length - 1;
  ev.preventDefault();
  all[i].focus();
  if (i === 0 && app.ui.active && app.ui.active.hasOlder) app.store.loadOlder(app.ui.active).catch(() => {});
}

// ---- opening -------------------------------------------------------------------------------
export async function openConversation(cid, { focus = true, seq = null } = {}) {
  const store = app.store;
  const ui = app.ui;
  const c = store.conv(cid);
  if (!c) return;
  if (!ui.active || ui.active.id !== cid) {
    ui.active = c;
    ui.reply = null;
    ui.edit = null;
    // The unread divider goes where the reader left off.
    ui.dividerSeq = store.unread(c) > 0 ? c.read_seq : null;
    resetChat();
    closePicker();
    renderContextBar();
  }
  document.body.classList.add('in-chat');
  renderList();
  renderChat();
  try {
    await store.open(c);
  } catch (e) {
    toast(explain(e));
  }
  if (ui.active !== c) return;
  if (c.kind === 'group' && (c.myRole === undefined || c.description === undefined)) {
    // Owners may recall anyone's message; the group settings tell admins apart. The header
    // shows the description.
    app.api.group(c.group_id || c.id.slice(6)).then((r) => {
      if (c.myRole === undefined) c.myRole = r.group.owner_id === store.me.user_id ? 'owner' : null;
      if (c.description === undefined) c.description = r.group.description || '';
      if (ui.active === c) {
        renderChatHead();
        renderMessages();
      }
    }).catch(() => {});
  }
  if (seq !== null) await revealSeq(c, seq);
  renderMessages();
  maybeMarkRead();
  if (focus) $('composer-text').focus();
}

// ---- actions -------------------------------------------------------------------------------
export function renderContextBar() {
  const store = app.store;
  const ui = app.ui;
  const c = ui.active;
  const bar = $('context-bar');
  if (ui.reply !== null && c) {
    const t = c.msgs.get(ui.reply);
    $('context-text').textContent = `Replying to ${t ? store.name(t.sender_id) : ''}: ${t && t.body.text ? t.body.text.slice(0, 80) : ''}`;
    bar.hidden = false;
  } else if (ui.edit !== null && c) {
    $('context-text').textContent = 'Editing your message (Escape cancels)';
    bar.hidden = false;
  } else {
    bar.hidden = true;
  }
}

export function startReply(c, m) {
  app.ui.reply = m.seq;
  app.ui.edit = null;
  renderContextBar();
  $('composer-text').focus();
}

export function startEdit(c, m) {
  app.ui.edit = m.seq;
  app.ui.reply = null;
  $('composer-text').value = m.body.text || '';
  renderContextBar();
  $('composer-text').focus();
}

export function cancelContext() {
  if (app.ui.edit !== null) $('composer-text').value = '';
  app.ui.reply = null;
  app.ui.edit = null;
  renderContextBar();
}

function canModerate(c) {
  return c.kind === 'group' && c.myRole && c.myRole !== 'member';
}

// Operations (edit, recall, reaction) are sent like any message; a failure is shown and not
// retried, since the person sees the state and can act again.
export async function sendOp(c, body) {
  try {
    const p = await app.store.send(c, body);
    if (p.status === 'failed') {
      app.store.discard(c, p.cmid);
      toast(p.error);
    }
  } catch (e) {
    toast(explain(e));
  }
}

function react(c, m, emoji, op) { sendOp(c, { type: 'reaction', target_seq: m.seq, emoji, op }); }

function recall(c, m) {
  if (!window.confirm('Recall this message for everyone?')) return;
  sendOp(c, { type: 'recall', target_seq: m.seq });
}

// ---- mute ----------------------------------------------------------------------------------
function openMuteDialog() {
  const c = app.ui.active;
  if (!c) return;
  $('mute-unmute').hidden = !app.store.isMuted(c);
  $('mute-state').textContent = app.store.isMuted(c)
    ? `Muted until ${muteEnd(c.muted_until)}.` : 'Get no notifications from this conversation for a while.';
  $('mute-dialog').showModal();
}

async function chooseMute(what) {
  const c = app.ui.active;
  $('mute-dialog').close();
  if (!c || what === 'cancel') return;
  const hour = 3600 * 1000;
  const until = { '1h': Date.now() + hour, '8h': Date.now() + 8 * hour, '1w': Date.now() + 7 * 24 * hour,
    forever: Number.MAX_SAFE_INTEGER, off: 0 }[what];
  try {
    await app.store.setMuted(c, until);
    renderChatHead();
    toast(until ? `${convTitle(c)} is muted.` : `${convTitle(c)} is no longer muted.`);
  } catch (e) {
    toast(explain(e));
  }
}
