// The monochat web client: wires the REST API, the WebSocket connection and the store to the
// page. Plain DOM, no framework; every control is a native button, input or link, so it works
// with the keyboard and a screen reader.

import { Api, ApiError } from './api.js';
import { Connection } from './connection.js';
import { Store } from './store.js';

const $ = (id) => document.getElementById(id);
const QUICK_EMOJI = ['👍', '❤️', '😂', '🎉'];
const TOKEN_KEY = 'monochat.token';

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function timeOf(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  const now = new Date();
  const opts = d.toDateString() === now.toDateString()
    ? { hour: '2-digit', minute: '2-digit' }
    : { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' };
  return d.toLocaleString(undefined, opts);
}

const api = new Api();
let store = null;
let conn = null;
const ui = {
  active: null, // the open conversation
  reply: null, // seq being replied to
  edit: null, // seq being edited
  lastTypingSent: 0,
  rendered: new Map(), // key -> {el, sig}
  stickBottom: true,
};

// ---------------------------------------------------------------------------------------
// Toasts and errors
function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove('show'), 4000);
}

function explain(e) {
  if (e instanceof ApiError) {
    if (e.code === 'rate_limited') return `Too many attempts; try again in ${e.retryAfter || 'a few'} s.`;
    return e.message || e.code;
  }
  return (e && (e.message || e.code)) || String(e);
}

// ---------------------------------------------------------------------------------------
// Signing in
function showAuth() {
  $('shell').hidden = true;
  $('auth').hidden = false;
  document.title = 'monochat';
  const first = document.querySelector('#auth form:not([hidden]) input');
  if (first) first.focus();
}

function setupTabs(tabIds, onSelect) {
  const tabs = tabIds.map((id) => $(id));
  const select = (tab, focus) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !on;
    }
    if (focus) tab.focus();
    if (onSelect) onSelect(tab.id);
  };
  tabs.forEach((t, i) => {
    t.addEventListener('click', () => select(t, false));
    t.addEventListener('keydown', (ev) => {
      let j = null;
      if (ev.key === 'ArrowRight') j = (i + 1) % tabs.length;
      if (ev.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
      if (ev.key === 'Home') j = 0;
      if (ev.key === 'End') j = tabs.length - 1;
      if (j !== null) {
        ev.preventDefault();
        select(tabs[j], true);
      }
    });
  });
  return (id) => select($(id), false);
}

async function authSubmit(ev, fn) {
  ev.preventDefault();
  const form = ev.target;
  const button = form.querySelector('button[type=submit]');
  const data = Object.fromEntries(new FormData(form));
  $('auth-error').textContent = '';
  button.disabled = true;
  try {
    const r = await fn(data);
    localStorage.setItem(TOKEN_KEY, r.token);
    form.reset();
    await startSession(r.token, r.user);
  } catch (e) {
    $('auth-error').textContent = explain(e);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------
// Session
async function startSession(token, user) {
  api.token = token;
  if (!user) user = (await api.me()).user;
  conn = new Connection(() => api.token, {
    onHello: () => onConnected(),
    onFrame: (f) => store.handleFrame(f),
    onState: () => renderConnState(),
    onAuthLost: () => endSession('You were logged out.'),
    onRepeatedFailure: () => api.me().catch(() => {}),
  });
  store = new Store(api, conn);
  store.me = user;
  store.rememberUser(user);
  store.on(onStoreChange);
  api.onUnauthenticated = () => endSession('Your session has ended; please log in again.');
  window.monochat = { store, conn, ui };

  $('auth').hidden = true;
  $('shell').hidden = false;
  $('me-name').textContent = user.display_name || user.username;
  document.body.classList.toggle('guest', !!user.guest);
  for (const id of ['side-friends', 'side-groups']) $(id).hidden = !!user.guest;
  renderConnState();

  await store.loadConversations();
  if (!user.guest) {
    await Promise.all([store.loadFriends(), store.loadRequests()]).catch(() => {});
  }
  conn.start();
  const first = store.conv('world') || store.conv(store.order[0]);
  if (first && !isPhone()) openConversation(first.id, { focus: false });
  else renderChat();
}

let firstHello = true;
async function onConnected() {
  conn.send({ type: 'subscribe', conversation_id: 'world', id: 'sub-world' });
  const again = !firstHello;
  firstHello = false;
  try {
    // After a restart or a network loss: refresh the list, then sync every conversation
    // held here from its last seq, and send again what could not be sent.
    if (again) await store.resync();
    if (again && !store.me.guest) await Promise.all([store.loadFriends(), store.loadRequests()]);
  } catch (e) {
    /* the next reconnect tries again */
  }
  store.resendFailed();
  if (ui.active) {
    maybeMarkRead();
    store.loadReaders(ui.active);
  }
  renderConnState();
}

async function endSession(message) {
  if (conn) conn.stop();
  localStorage.removeItem(TOKEN_KEY);
  api.token = null;
  store = null;
  conn = null;
  ui.active = null;
  ui.rendered.clear();
  firstHello = true;
  $('messages').replaceChildren();
  $('conv-list').replaceChildren();
  for (const id of ['search-results', 'find-results', 'friend-list', 'incoming', 'outgoing']) {
    $(id).replaceChildren();
  }
  $('panel-search').hidden = true;
  $('search-input').value = '';
  if ($('group-dialog').open) $('group-dialog').close();
  document.body.classList.remove('in-chat');
  showAuth();
  if (message) $('auth-error').textContent = message;
}

async function logout() {
  try {
    await api.logout();
  } catch (e) { /* the token is dropped here either way */ }
  endSession('');
}

function renderConnState() {
  if (!conn) return;
  const s = conn.state;
  let text = '';
  if (s === 'open') text = 'Online';
  else if (s === 'connecting') text = 'Connecting…';
  else if (s === 'waiting') {
    const secs = Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000));
    text = navigator.onLine ? `Reconnecting in ${secs} s…` : 'Offline';
  } else text = 'Offline';
  $('conn-state').textContent = text;
  $('conn-state').dataset.state = s;
  $('conn-dot').classList.toggle('on', s === 'open');
  document.body.dataset.conn = s;
}
setInterval(() => { if (conn && conn.state === 'waiting') renderConnState(); }, 1000);

// ---------------------------------------------------------------------------------------
// Store changes
function onStoreChange(what, cid) {
  if (!store) return;
  switch (what) {
    case 'list':
    case 'users':
    case 'presence':
      if (ui.active && !store.conv(ui.active.id)) {
        // Removed from the group (or it is gone): close it.
        ui.active = null;
        ui.rendered.clear();
        renderChat();
      }
      renderList();
      if (ui.active) renderChatHead();
      if (what === 'users' && ui.active) renderMessages();
      if (what !== 'list') renderFriends();
      break;
    case 'messages':
    case 'older':
      renderList();
      if (ui.active && ui.active.id === cid) {
        renderMessages(what === 'older');
        maybeMarkRead();
      }
      break;
    case 'incoming':
      if (ui.active && ui.active.id === cid) maybeMarkRead();
      break;
    case 'typing':
      if (ui.active && ui.active.id === cid) renderTyping();
      break;
    case 'friends':
      renderFriends();
      break;
    case 'group':
      if (ui.active && ui.active.id === cid && $('group-dialog').open) loadGroupDialog();
      break;
    case 'notice':
      toast(cid);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------
// Conversation list
function convPreview(c) {
  const m = c.last_message;
  if (!m) return 'No messages yet';
  const who = m.sender_id === store.me.user_id ? 'You' : store.name(m.sender_id);
  const b = m.body || {};
  if (b.type === 'edit') return `${who} edited a message`;
  if (b.type === 'recall') return `${who} recalled a message`;
  if (b.type === 'reaction') return `${who} reacted ${b.op === 'add' ? b.emoji : ''}`.trim();
  const text = m.recalled ? 'message recalled' : b.text || '';
  return `${who}: ${text}`;
}

function renderList() {
  const list = $('conv-list');
  const focusedCid = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.cid : null;
  const items = [];
  for (const cid of store.order) {
    const c = store.conv(cid);
    if (!c) continue;
    const unread = store.unread(c);
    const title = c.kind === 'direct' && c.peer_id ? store.name(c.peer_id) : c.title;
    const active = ui.active && ui.active.id === c.id;
    const dot = c.kind === 'direct' ? h('span', {
      class: `dot${store.online(c.peer_id) ? ' on' : ''}`,
      title: store.online(c.peer_id) ? 'online' : 'offline',
    }) : h('span', { class: `avatar ${c.kind}`, 'aria-hidden': 'true', text: c.kind === 'world' ? '🌐' : '#' });
    const label = `${title}${unread ? `, ${unread} unread` : ''}${c.mentions_unread ? `, ${c.mentions_unread} mention${c.mentions_unread > 1 ? 's' : ''}` : ''}${c.kind === 'direct' ? (store.online(c.peer_id) ? ', online' : ', offline') : ''}`;
    const btn = h('button', {
      type: 'button', class: `conv${active ? ' active' : ''}`, 'aria-label': label,
      'aria-current': active ? 'true' : false, dataset: { cid: c.id },
      onclick: () => openConversation(c.id),
      onkeydown: listKeys,
    },
    dot,
    h('span', { class: 'conv-main' },
      h('span', { class: 'conv-title', text: title }),
      h('span', { class: 'conv-last', text: convPreview(c) })),
    h('span', { class: 'conv-side' },
      h('span', { class: 'conv-time', text: c.last_message ? timeOf(c.last_message.ts) : '' }),
      h('span', { class: 'badges' },
        c.mentions_unread ? h('span', { class: 'badge mention', title: 'mentions', text: `@${c.mentions_unread}` }) : null,
        unread ? h('span', { class: 'badge unread', text: String(unread) }) : null)));
    items.push(h('li', {}, btn));
  }
  list.replaceChildren(...items);
  if (focusedCid) {
    const again = list.querySelector(`[data-cid="${CSS.escape(focusedCid)}"]`);
    if (again) again.focus();
  }
  const total = [...store.convs.values()].reduce((n, c) => n + (c.id === (ui.active && ui.active.id) ? 0 : store.unread(c)), 0);
  document.title = total ? `(${total}) monochat` : 'monochat';
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

function isPhone() { return window.matchMedia('(max-width: 720px)').matches; }

async function openConversation(cid, { focus = true, seq = null } = {}) {
  const c = store.conv(cid);
  if (!c) return;
  if (!ui.active || ui.active.id !== cid) {
    ui.active = c;
    ui.reply = null;
    ui.edit = null;
    ui.rendered.clear();
    ui.stickBottom = true;
    $('messages').replaceChildren();
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
  if (c.kind === 'group' && c.myRole === undefined) {
    // Owners may recall anyone's message; the members dialog tells admins apart.
    api.group(c.group_id || c.id.slice(6)).then((r) => {
      if (c.myRole === undefined) c.myRole = r.group.owner_id === store.me.user_id ? 'owner' : null;
      if (ui.active === c) { ui.rendered.clear(); $('messages').replaceChildren(); renderMessages(); }
    }).catch(() => {});
  }
  if (seq !== null) await revealSeq(c, seq);
  renderMessages();
  maybeMarkRead();
  store.loadReaders(c);
  if (focus) $('composer-text').focus();
}

// ---------------------------------------------------------------------------------------
// Chat view
function renderChat() {
  const c = ui.active;
  const enabled = !!c;
  $('composer-text').disabled = !enabled;
  $('send').disabled = !enabled;
  renderChatHead();
  if (!c) {
    $('messages').replaceChildren();
    $('older-state').textContent = '';
    return;
  }
  renderMessages();
  renderTyping();
}

function renderChatHead() {
  const c = ui.active;
  if (!c) {
    $('chat-title').textContent = 'Pick a conversation';
    $('chat-sub').textContent = '';
    $('manage').hidden = true;
    $('chat-dot').hidden = true;
    return;
  }
  const title = c.kind === 'direct' && c.peer_id ? store.name(c.peer_id) : c.title;
  $('chat-title').textContent = title;
  let sub = '';
  if (c.kind === 'direct') sub = store.online(c.peer_id) ? 'online' : 'offline';
  else if (c.kind === 'world') sub = 'everyone, guests included';
  else sub = `group ${c.group_id || ''}`;
  $('chat-sub').textContent = sub;
  $('chat-dot').hidden = c.kind !== 'direct';
  $('chat-dot').classList.toggle('on', c.kind === 'direct' && store.online(c.peer_id));
  $('manage').hidden = c.kind !== 'group';
}

function messageSig(m, extra) {
  return JSON.stringify([m.body, m.recalled, m.edited_at, m.reactions, extra]);
}

// The text of a message with @mentions and search words marked; built from text nodes only.
function richText(text, mentions) {
  const frag = document.createDocumentFragment();
  const names = new Set();
  for (const uid of mentions || []) {
    const u = uid === store.me.user_id ? store.me : store.users.get(uid);
    if (u && u.username) names.add(u.username.toLowerCase());
  }
  const re = /@([a-z0-9_.-]+)/gi;
  let last = 0;
  let mt;
  while ((mt = re.exec(text))) {
    if (!names.has(mt[1].toLowerCase())) continue;
    frag.append(text.slice(last, mt.index));
    const mine = store.me.username && mt[1].toLowerCase() === store.me.username.toLowerCase();
    frag.append(h('span', { class: `mention${mine ? ' me' : ''}`, text: mt[0] }));
    last = mt.index + mt[0].length;
  }
  frag.append(text.slice(last));
  return frag;
}

function renderMessage(c, m) {
  const mine = m.sender_id === store.me.user_id;
  const li = h('li', {
    class: `msg${mine ? ' mine' : ''}${store.isMention(m) ? ' mentioned' : ''}${m.recalled ? ' recalled' : ''}`,
    dataset: { seq: String(m.seq) }, tabindex: '-1',
  });
  const head = h('div', { class: 'meta' },
    h('span', { class: 'who' }, mine ? 'You' : store.name(m.sender_id),
      // A guest may take any display name: the tag keeps a guest "Bob" apart from the user Bob.
      !mine && store.isGuest(m.sender_id) ? h('span', { class: 'guest-tag', text: 'guest' }) : null),
    h('time', { datetime: new Date(m.ts).toISOString(), text: timeOf(m.ts) }),
    m.edited_at && !m.recalled ? h('span', { class: 'edited', text: '(edited)' }) : null);
  li.append(head);
  if (m.body.reply_to) {
    const t = c.msgs.get(m.body.reply_to);
    const quoted = t ? (t.recalled ? 'message recalled' : (t.body.text || '')) : `message ${m.body.reply_to}`;
    li.append(h('button', {
      type: 'button', class: 'quote', 'aria-label': `In reply to ${t ? store.name(t.sender_id) : ''}: ${quoted}`,
      onclick: () => revealSeq(c, m.body.reply_to).then(() => focusSeq(m.body.reply_to)),
    }, h('strong', { text: t ? store.name(t.sender_id) : '' }), ' ', quoted.slice(0, 120)));
  }
  if (m.recalled) {
    li.append(h('p', { class: 'text recalled-text', text: 'This message was recalled.' }));
  } else {
    li.append(h('p', { class: 'text' }, richText(m.body.text || '', m.body.mentions)));
  }
  const reactions = m.reactions || {};
  const rx = Object.entries(reactions);
  if (rx.length) {
    li.append(h('div', { class: 'reactions' }, rx.map(([emoji, r]) => {
      const minehere = !!r.me;
      return h('button', {
        type: 'button', class: `reaction${minehere ? ' mine' : ''}`, 'aria-pressed': String(minehere),
        title: reactorsLabel(r),
        'aria-label': `${emoji} ${r.count}, ${minehere ? 'remove yours' : 'add yours'}`,
        onclick: () => react(c, m, emoji, minehere ? 'remove' : 'add'),
      }, `${emoji} ${r.count}`);
    })));
  }
  if (mine && c.kind !== 'world') {
    const rs = store.readState(c, m);
    li.append(h('span', { class: `status ${rs.n ? 'read' : 'sent'}`, dataset: { status: rs.n ? 'read' : 'sent' }, text: rs.n ? `✓✓ ${rs.label}` : '✓ sent' }));
  } else if (mine) {
    li.append(h('span', { class: 'status sent', dataset: { status: 'sent' }, text: '✓ sent' }));
  }
  if (!m.recalled) {
    const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Message actions' },
      h('button', { type: 'button', onclick: () => startReply(c, m), text: 'Reply' }),
      QUICK_EMOJI.map((e) => h('button', {
        type: 'button', 'aria-label': `React ${e}`,
        onclick: () => react(c, m, e, reactions[e] && reactions[e].me ? 'remove' : 'add'),
      }, e)),
      mine ? h('button', { type: 'button', onclick: () => startEdit(c, m), text: 'Edit' }) : null,
      mine || canModerate(c) ? h('button', { type: 'button', onclick: () => recall(c, m), text: 'Recall' }) : null);
    if (!m.recalled) li.append(actions);
  }
  return li;
}

function renderPending(c, p) {
  const li = h('li', { class: `msg mine pending ${p.status}`, dataset: { cmid: p.cmid }, tabindex: '-1' });
  li.append(h('div', { class: 'meta' }, h('span', { class: 'who', text: 'You' })));
  if (p.body.reply_to) li.append(h('div', { class: 'quote', text: `↪ ${p.body.reply_to}` }));
  li.append(h('p', { class: 'text' }, richText(p.body.text || '', p.body.mentions)));
  if (p.status === 'failed') {
    li.append(h('span', { class: 'status failed', dataset: { status: 'failed' }, role: 'alert', text: p.error || 'Not sent.' }));
    li.append(h('div', { class: 'actions show' },
      h('button', { type: 'button', class: 'retry', onclick: () => store.retry(c, p.cmid), text: 'Retry' }),
      h('button', { type: 'button', onclick: () => store.discard(c, p.cmid), text: 'Discard' })));
  } else {
    li.append(h('span', { class: `status ${p.status}`, dataset: { status: p.status }, text: p.status === 'sending' ? '… sending' : '✓ sent' }));
  }
  return li;
}

function renderMessages(keepTopAnchor = false) {
  const c = ui.active;
  if (!c) return;
  const box = $('messages');
  const scroller = $('scroller');
  const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  const oldHeight = scroller.scrollHeight;
  const oldTop = scroller.scrollTop;
  const seqs = [...c.msgs.keys()].sort((a, b) => a - b);
  const wanted = [];
  for (const seq of seqs) {
    const m = c.msgs.get(seq);
    if (!m.body || m.body.type !== 'text') continue;
    const extra = m.sender_id === store.me.user_id ? store.readState(c, m).label : '';
    const replySig = m.body.reply_to ? messageSig(c.msgs.get(m.body.reply_to) || {}, '') : '';
    const sig = messageSig(m, [extra, replySig, store.name(m.sender_id), store.isGuest(m.sender_id)]);
    const key = `s${seq}`;
    let r = ui.rendered.get(key);
    if (!r || r.sig !== sig) {
      const el = renderMessage(c, m);
      if (r && r.el.contains(document.activeElement)) {
        // Keep the keyboard where it was.
        const idx = [...r.el.querySelectorAll('button')].indexOf(document.activeElement);
        r.el.replaceWith(el);
        const again = el.querySelectorAll('button')[idx];
        if (again) again.focus();
      } else if (r) r.el.replaceWith(el);
      r = { el, sig };
      ui.rendered.set(key, r);
    }
    wanted.push(key);
  }
  for (const p of c.pending.values()) {
    const key = `p${p.cmid}`;
    const sig = JSON.stringify([p.status, p.error]);
    let r = ui.rendered.get(key);
    if (!r || r.sig !== sig) {
      const el = renderPending(c, p);
      if (r) r.el.replaceWith(el);
      r = { el, sig };
      ui.rendered.set(key, r);
    }
    wanted.push(key);
  }
  const keep = new Set(wanted);
  for (const [key, r] of ui.rendered) {
    if (!keep.has(key)) {
      r.el.remove();
      ui.rendered.delete(key);
    }
  }
  // Put the elements in order, moving only those out of place.
  let prev = null;
  for (const key of wanted) {
    const el = ui.rendered.get(key).el;
    const want = prev ? prev.nextSibling : box.firstChild;
    if (want !== el) box.insertBefore(el, want);
    prev = el;
  }
  $('older-state').textContent = c.held === null ? 'Loading…'
    : c.hasOlder ? 'Scroll up for older messages' : (seqs.length ? 'The beginning of this conversation' : 'No messages yet. Say hello!');
  if (keepTopAnchor) {
    scroller.scrollTop = oldTop + (scroller.scrollHeight - oldHeight);
  } else if (nearBottom || ui.stickBottom) {
    scroller.scrollTop = scroller.scrollHeight;
    ui.stickBottom = false;
  }
  // A page too short to scroll could never ask for older messages: fetch them now.
  if (c.hasOlder && !c.loadingOlder && scroller.scrollHeight <= scroller.clientHeight + 60) {
    store.loadOlder(c).catch(() => {});
  }
}

function renderTyping() {
  const c = ui.active;
  if (!c) return;
  const now = Date.now();
  const who = [...c.typing].filter(([, until]) => until > now).map(([uid]) => store.name(uid));
  $('typing').textContent = who.length === 0 ? '' : who.length === 1 ? `${who[0]} is typing…`
    : `${who.slice(0, 3).join(', ')} are typing…`;
}

function maybeMarkRead() {
  const c = ui.active;
  if (!c || document.visibilityState === 'hidden' || c.held === null) return;
  if (isPhone() && !document.body.classList.contains('in-chat')) return;
  clearTimeout(maybeMarkRead.timer);
  maybeMarkRead.timer = setTimeout(() => { if (store && ui.active === c) store.markRead(c); }, 150);
}

function focusSeq(seq) {
  const el = $('messages').querySelector(`li[data-seq="${seq}"]`);
  if (el) {
    el.scrollIntoView({ block: 'center' });
    el.classList.add('flash');
    setTimeout(() => el.classList.remove('flash'), 1600);
    el.focus({ preventScroll: true });
  }
}

// Loads older pages until `seq` is held (bounded).
async function revealSeq(c, seq) {
  for (let i = 0; i < 40 && c.low !== null && seq < c.low && c.hasOlder; i++) {
    await store.loadOlder(c);
  }
  renderMessages(true);
}

// Keyboard in the message list: Up/Down (and Home/End) move between messages; a focused
// message shows its actions, which Tab then reaches.
$('scroller').addEventListener('keydown', (ev) => {
  if (!['ArrowUp', 'ArrowDown', 'Home', 'End'].includes(ev.key)) return;
  if (ev.target.closest('button, select, input, textarea')) return;
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
  if (i === 0 && ui.active && ui.active.hasOlder) store.loadOlder(ui.active).catch(() => {});
});

// History on scroll: near the top, fetch the previous page.
$('scroller').addEventListener('scroll', () => {
  const c = ui.active;
  if (!c || !store) return;
  if ($('scroller').scrollTop < 60 && c.hasOlder && !c.loadingOlder) {
    store.loadOlder(c).catch((e) => toast(explain(e)));
  }
});

// ---------------------------------------------------------------------------------------
// Composer: send, reply, edit, mentions, typing
function renderContextBar() {
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

function startReply(c, m) {
  ui.reply = m.seq;
  ui.edit = null;
  renderContextBar();
  $('composer-text').focus();
}

function startEdit(c, m) {
  ui.edit = m.seq;
  ui.reply = null;
  $('composer-text').value = m.body.text || '';
  renderContextBar();
  $('composer-text').focus();
}

function cancelContext() {
  if (ui.edit !== null) $('composer-text').value = '';
  ui.reply = null;
  ui.edit = null;
  renderContextBar();
}

function canModerate(c) {
  return c.kind === 'group' && c.myRole && c.myRole !== 'member';
}

// @username words that name a user become the message's `mentions`; names not seen yet are
// looked up (an exact username match) before the message goes out.
async function mentionsIn(text) {
  const ids = new Set();
  const byName = () => {
    const m = new Map();
    for (const u of store.users.values()) if (u.username) m.set(u.username.toLowerCase(), u.user_id);
    return m;
  };
  const words = [...new Set([...text.matchAll(/@([a-z0-9_.-]{3,32})/gi)].map((mt) => mt[1].toLowerCase()))].slice(0, 50);
  let known = byName();
  const unknown = words.filter((w) => !known.has(w));
  if (unknown.length && !store.me.guest) {
    await Promise.all(unknown.slice(0, 10).map((w) => api.findUsers(w).then((r) => {
      for (const u of r.users) store.rememberUser(u);
    }).catch(() => {})));
    known = byName();
  }
  for (const w of words) if (known.has(w)) ids.add(known.get(w));
  return [...ids];
}

async function submitComposer(ev) {
  ev.preventDefault();
  const c = ui.active;
  const input = $('composer-text');
  const text = input.value.trim();
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
  ui.stickBottom = true;
  await store.send(c, body);
}

// Operations (edit, recall, reaction) are sent like any message; a failure is shown and not
// retried, since the person sees the state and can act again.
async function sendOp(c, body) {
  try {
    const p = await store.send(c, body);
    if (p.status === 'failed') {
      store.discard(c, p.cmid);
      toast(p.error);
    }
  } catch (e) {
    toast(explain(e));
  }
}

// Who reacted, for a tooltip: the first users the server lists, then how many more.
function reactorsLabel(r) {
  const names = (r.users || []).map((u) => store.name(u));
  const more = r.count - names.length;
  return more > 0 ? `${names.join(', ')} and ${more} more` : names.join(', ');
}

function react(c, m, emoji, op) { sendOp(c, { type: 'reaction', target_seq: m.seq, emoji, op }); }

function recall(c, m) {
  if (!window.confirm('Recall this message for everyone?')) return;
  sendOp(c, { type: 'recall', target_seq: m.seq });
}

function autoGrow() {
  const t = $('composer-text');
  t.style.height = 'auto';
  t.style.height = `${Math.min(160, t.scrollHeight)}px`;
}

$('composer').addEventListener('submit', submitComposer);
$('composer-text').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    $('composer').requestSubmit();
  } else if (ev.key === 'Escape') {
    cancelContext();
  } else if (ev.key === 'ArrowUp' && !ev.target.value && ui.active) {
    // Up in an empty box edits one's last message.
    const c = ui.active;
    const mine = [...c.msgs.values()].filter((m) => m.sender_id === store.me.user_id && m.body.type === 'text' && !m.recalled);
    if (mine.length) {
      ev.preventDefault();
      startEdit(c, mine.sort((a, b) => a.seq - b.seq)[mine.length - 1]);
    }
  }
});
$('composer-text').addEventListener('input', () => {
  autoGrow();
  const c = ui.active;
  if (!c || !conn || ui.edit !== null) return;
  const now = Date.now();
  if (now - ui.lastTypingSent > 2500 && $('composer-text').value.trim()) {
    ui.lastTypingSent = now;
    conn.send({ type: 'typing', conversation_id: c.id });
  }
});
$('context-cancel').addEventListener('click', cancelContext);
$('back').addEventListener('click', () => {
  document.body.classList.remove('in-chat');
  const btn = ui.active && $('conv-list').querySelector(`[data-cid="${CSS.escape(ui.active.id)}"]`);
  if (btn) btn.focus();
});

// ---------------------------------------------------------------------------------------
// Friends
function personRow(u, ...buttons) {
  return h('li', { class: 'person' },
    h('span', { class: `dot${u.online ? ' on' : ''}`, title: u.online ? 'online' : 'offline' }),
    h('span', { class: 'person-name' }, h('strong', { text: u.display_name || u.username }), ' ',
      h('span', { class: 'sub', text: `@${u.username || ''}` })),
    h('span', { class: 'person-actions' }, ...buttons));
}

function renderFriends() {
  if (!store || store.me.guest) return;
  const friends = [...store.friends.values()];
  $('friend-list').replaceChildren(...(friends.length ? friends.map((u) => personRow(u,
    h('button', { type: 'button', onclick: () => chatWith(u.user_id), 'aria-label': `Chat with ${u.display_name || u.username}`, text: 'Chat' }),
    h('button', { type: 'button', class: 'ghost', 'aria-label': `Unfriend ${u.display_name || u.username}`,
      onclick: async () => {
        if (!window.confirm(`Remove ${u.display_name || u.username} from your friends?`)) return;
        try { await api.unfriend(u.user_id); await store.loadFriends(); } catch (e) { toast(explain(e)); }
      },
      text: 'Remove' }))) : [h('li', { class: 'sub', text: 'No friends yet. Find people above.' })]));
  const incoming = store.requests.incoming || [];
  $('incoming').replaceChildren(...incoming.map((r) => {
    const u = store.users.get(r.from_user_id) || { user_id: r.from_user_id, username: '', display_name: store.name(r.from_user_id) };
    const row = personRow(u,
      h('button', { type: 'button', class: 'primary', 'aria-label': `Accept ${store.name(r.from_user_id)}`, onclick: () => answer(r, true), text: 'Accept' }),
      h('button', { type: 'button', 'aria-label': `Reject ${store.name(r.from_user_id)}`, onclick: () => answer(r, false), text: 'Reject' }));
    if (r.note) row.append(h('p', { class: 'note', text: r.note }));
    return row;
  }));
  const outgoing = store.requests.outgoing || [];
  $('outgoing').replaceChildren(...outgoing.map((r) => {
    const u = store.users.get(r.to_user_id) || { user_id: r.to_user_id, username: '', display_name: store.name(r.to_user_id) };
    return personRow(u, h('span', { class: 'sub', text: 'request sent' }));
  }));
  const badge = $('req-badge');
  badge.hidden = incoming.length === 0;
  badge.textContent = String(incoming.length);
  badge.setAttribute('aria-label', `${incoming.length} friend requests`);
  renderGroupForm();
}

async function answer(r, accept) {
  try {
    await api.answerRequest(r.request_id, accept);
    toast(accept ? `You and ${store.name(r.from_user_id)} are friends.` : 'Request rejected.');
    await Promise.all([store.loadRequests(), store.loadFriends()]);
  } catch (e) {
    toast(explain(e));
  }
}

async function chatWith(uid) {
  try {
    const c = await store.directWith(uid);
    selectSide('side-chats');
    openConversation(c.id);
  } catch (e) {
    toast(explain(e));
  }
}

$('find-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const q = $('find-input').value.trim().replace(/^@/, '');
  if (!q) return;
  try {
    const r = await api.findUsers(q);
    const people = r.users.filter((u) => u.user_id !== store.me.user_id);
    for (const u of people) store.rememberUser(u);
    $('find-results').replaceChildren(...(people.length ? people.map((u) => {
      const isFriend = store.friends.has(u.user_id);
      return personRow(u, isFriend
        ? h('button', { type: 'button', onclick: () => chatWith(u.user_id), text: 'Chat' })
        : h('button', {
          type: 'button', 'aria-label': `Add ${u.username} as a friend`,
          onclick: async (e2) => {
            try {
              await api.requestFriend(u.user_id);
              e2.target.disabled = true;
              e2.target.textContent = 'Requested';
              await Promise.all([store.loadRequests(), store.loadFriends()]);
            } catch (e) { toast(explain(e)); }
          },
          text: 'Add friend' }));
    }) : [h('li', { class: 'sub', text: 'Nobody found.' })]));
  } catch (e) {
    toast(explain(e));
  }
});

// ---------------------------------------------------------------------------------------
// Groups
function renderGroupForm() {
  const box = $('group-members');
  const checked = new Set([...box.querySelectorAll('input:checked')].map((i) => i.value));
  const friends = [...store.friends.values()];
  box.replaceChildren(h('legend', { text: 'Members from your friends' }),
    ...(friends.length ? friends.map((u) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'member', value: u.user_id, checked: checked.has(u.user_id) }),
      ` ${u.display_name || u.username}`)) : [h('p', { class: 'sub', text: 'Add friends to invite them.' })]));
}

$('group-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const ids = [...f.querySelectorAll('input[name=member]:checked')].map((i) => i.value);
  try {
    const r = await api.createGroup(f.elements.name.value.trim(), ids, f.elements.public.checked);
    f.reset();
    renderGroupForm();
    await store.loadConversations();
    toast(`Group “${r.group.name}” created (id ${r.group.group_id}).`);
    selectSide('side-chats');
    openConversation(r.group.conversation_id);
  } catch (e) {
    toast(explain(e));
  }
});

$('join-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  try {
    const r = await api.joinGroup(f.elements.group_id.value.trim());
    f.reset();
    await store.loadConversations();
    selectSide('side-chats');
    openConversation(r.group.conversation_id);
  } catch (e) {
    toast(explain(e));
  }
});

async function loadGroupDialog() {
  const c = ui.active;
  if (!c || c.kind !== 'group') return;
  const gid = c.group_id || c.id.slice('group:'.length);
  $('gd-error').textContent = '';
  try {
    const g = (await api.group(gid)).group;
    const members = [];
    let after = null;
    for (let i = 0; i < 50; i++) {
      const r = await api.members(gid, after);
      members.push(...r.members);
      if (!r.next) break;
      after = r.next;
    }
    const mine = members.find((m) => m.user_id === store.me.user_id);
    c.myRole = mine ? mine.role : null;
    const manager = c.myRole === 'owner' || c.myRole === 'admin';
    $('gd-title').textContent = g.name;
    $('gd-info').textContent = `${g.member_count} members · ${g.public ? 'public' : 'private'} · id ${g.group_id}`;
    $('gd-members').replaceChildren(...members.map((m) => {
      const name = store.name(m.user_id);
      const u = store.users.get(m.user_id) || { user_id: m.user_id, display_name: name };
      const buttons = [];
      if (c.myRole !== 'owner' || m.user_id === store.me.user_id) {
        buttons.push(h('span', { class: 'role', text: m.role }));
      } else {
        const sel = h('select', { 'aria-label': `Role of ${name}` },
          ['member', 'admin', 'owner'].map((r) => h('option', { value: r, selected: r === m.role, text: r })));
        sel.addEventListener('change', async () => {
          try { await api.setRole(gid, m.user_id, sel.value); loadGroupDialog(); } catch (e) { $('gd-error').textContent = explain(e); }
        });
        buttons.push(sel);
      }
      if (manager && m.role !== 'owner' && m.user_id !== store.me.user_id) {
        buttons.push(h('button', {
          type: 'button', class: 'ghost', 'aria-label': `Remove ${name}`, text: 'Remove',
          onclick: async () => {
            try { await api.removeMember(gid, m.user_id); loadGroupDialog(); } catch (e) { $('gd-error').textContent = explain(e); }
          },
        }));
      }
      return personRow({ ...u, online: store.online(m.user_id) }, ...buttons);
    }));
    const inGroup = new Set(members.map((m) => m.user_id));
    const candidates = [...store.friends.values()].filter((u) => !inGroup.has(u.user_id));
    $('gd-add').hidden = !manager;
    $('gd-add-select').replaceChildren(...candidates.map((u) => h('option', { value: u.user_id, text: u.display_name || u.username })));
    $('gd-add').querySelector('button').disabled = candidates.length === 0;
  } catch (e) {
    $('gd-error').textContent = explain(e);
  }
}

$('manage').addEventListener('click', () => {
  $('group-dialog').showModal();
  loadGroupDialog();
});
$('gd-add').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const c = ui.active;
  const uid = $('gd-add-select').value;
  if (!uid) return;
  try {
    await api.addMembers(c.group_id || c.id.slice(6), [uid]);
    loadGroupDialog();
  } catch (e) {
    $('gd-error').textContent = explain(e);
  }
});
$('gd-leave').addEventListener('click', async () => {
  const c = ui.active;
  if (!c || !window.confirm('Leave this group?')) return;
  try {
    await api.removeMember(c.group_id || c.id.slice(6), store.me.user_id);
    $('group-dialog').close();
    ui.active = null;
    await store.loadConversations();
    renderChat();
  } catch (e) {
    $('gd-error').textContent = explain(e);
  }
});

// ---------------------------------------------------------------------------------------
// Search
function queryWords(q) {
  return q.replace(/["*]/g, ' ').split(/\s+/).filter(Boolean).map((w) => w.toLowerCase());
}

function fold(s) { return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase(); }

// Marks every occurrence of a query word (ignoring case and accents) with <mark>.
function highlight(text, words) {
  const frag = document.createDocumentFragment();
  const folded = [...text].map((ch) => fold(ch));
  const flat = folded.join('');
  // Map positions in the folded string back to the original characters.
  const starts = [];
  let pos = 0;
  for (const f of folded) { starts.push(pos); pos += f.length; }
  const marks = new Array(folded.length).fill(false);
  for (const w of words.map(fold)) {
    if (!w) continue;
    let i = flat.indexOf(w);
    while (i !== -1) {
      for (let k = 0; k < folded.length; k++) {
        if (starts[k] + folded[k].length > i && starts[k] < i + w.length) marks[k] = true;
      }
      i = flat.indexOf(w, i + w.length);
    }
  }
  const chars = [...text];
  let run = '';
  let runMark = false;
  const flush = () => {
    if (!run) return;
    frag.append(runMark ? h('mark', { text: run }) : run);
    run = '';
  };
  chars.forEach((ch, k) => {
    if (marks[k] !== runMark) { flush(); runMark = marks[k]; }
    run += ch;
  });
  flush();
  return frag;
}

$('search-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const q = $('search-input').value.trim();
  if (!q) return;
  const panel = $('panel-search');
  panel.hidden = false;
  const list = $('search-results');
  list.replaceChildren(h('li', { class: 'sub', text: 'Searching…' }));
  try {
    const r = await api.search(q);
    const words = queryWords(q);
    list.replaceChildren(...(r.messages.length ? r.messages.map((m) => {
      const c = store.conv(m.conversation_id);
      const where = c ? (c.kind === 'direct' && c.peer_id ? store.name(c.peer_id) : c.title) : m.conversation_id;
      return h('li', {}, h('button', {
        type: 'button', class: 'result',
        onclick: () => openConversation(m.conversation_id, { seq: m.seq }).then(() => focusSeq(m.seq)),
      },
      h('span', { class: 'sub', text: `${where} · ${store.name(m.sender_id)} · ${timeOf(m.ts)}` }),
      h('span', { class: 'result-text' }, highlight(m.body.text || '', words))));
    }) : [h('li', { class: 'sub', text: 'No messages found.' })]));
  } catch (e) {
    list.replaceChildren(h('li', { class: 'error', text: explain(e) }));
  }
});
$('search-close').addEventListener('click', () => {
  $('panel-search').hidden = true;
  $('search-input').focus();
});

// ---------------------------------------------------------------------------------------
// Global wiring
let selectSide = () => {};
function wire() {
  const selectAuth = setupTabs(['tab-login', 'tab-register', 'tab-guest']);
  selectAuth('tab-login');
  selectSide = setupTabs(['side-chats', 'side-friends', 'side-groups'], (id) => {
    if (id === 'side-friends' && store) store.loadRequests().catch(() => {});
  });
  $('form-login').addEventListener('submit', (ev) => authSubmit(ev, (d) => api.login(d.username, d.password)));
  $('form-register').addEventListener('submit', (ev) => authSubmit(ev, (d) => api.register(d.username, d.password, d.display_name)));
  $('form-guest').addEventListener('submit', (ev) => authSubmit(ev, (d) => api.guest(d.display_name)));
  $('logout').addEventListener('click', logout);
  // Names are limited in UTF-8 bytes by the server (64), not in characters: 22 Chinese
  // characters are 66 bytes. The browser's maxlength counts characters, so check bytes too.
  for (const input of document.querySelectorAll('input[data-max-bytes]')) {
    input.addEventListener('input', () => {
      const max = Number(input.dataset.maxBytes);
      const bytes = new TextEncoder().encode(input.value).length;
      input.setCustomValidity(bytes > max ? `At most ${max} bytes (this is ${bytes}; a Chinese character takes 3)` : '');
    });
  }
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !$('panel-search').hidden && document.activeElement &&
        $('panel-search').contains(document.activeElement)) {
      $('panel-search').hidden = true;
      $('search-input').focus();
    }
    // Alt+K: jump to search; Alt+L: jump to the conversation list.
    if (ev.altKey && ev.key.toLowerCase() === 'k') { ev.preventDefault(); $('search-input').focus(); }
    if (ev.altKey && ev.key.toLowerCase() === 'l') {
      ev.preventDefault();
      const b = $('conv-list').querySelector('.conv.active') || $('conv-list').querySelector('.conv');
      if (b) { document.body.classList.remove('in-chat'); b.focus(); }
    }
  });
  document.addEventListener('visibilitychange', maybeMarkRead);
  window.addEventListener('offline', () => { if (conn) conn.drop(); renderConnState(); });
  window.addEventListener('online', () => { if (conn) conn.now(); });
}

async function boot() {
  wire();
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) {
    showAuth();
    return;
  }
  api.token = token;
  for (let attempt = 0; ; attempt++) {
    try {
      await startSession(token, null);
      return;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        endSession('Your session has ended; please log in again.');
        return;
      }
      if (conn) conn.stop();
      conn = null;
      store = null;
      // The server is restarting or unreachable: keep the token and try again.
      showAuth();
      $('auth-error').textContent = `${explain(e)} Trying again…`;
      await new Promise((r) => setTimeout(r, Math.min(15000, 1000 * 2 ** attempt)));
      // Stop when the person signed in meanwhile, or out.
      if (store || localStorage.getItem(TOKEN_KEY) !== token) return;
    }
  }
}

boot();
