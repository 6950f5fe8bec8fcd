// The monochat web client: signs in, starts the session (store, WebSocket) and dispatches the
// store's changes to the views. Plain modules, no framework; every control is a native button,
// input or link, so it works with the keyboard and a screen reader. The views:
//   list-view.js      the conversation list          chat-view.js    the open conversation
//   composer.js       the message box, @mentions     people-view.js  friends, new groups, directory
//   search-view.js    message search                 settings-view.js  the settings page
//   group-settings-view.js  a group's settings       join-view.js    the join-by-link page
//   account-view.js   profile, password, sessions, blocked people, deleting the account
//   emoji-picker.js   the emoji picker               message-list.js the windowed message list
//   push.js           the Web Push opt-in (its service worker is /sw.js)
//   admin/            the admin page (#/admin): admin-page.js and one module per section

import { ApiError } from './api.js';
import { app, explain, isPhone, toast } from './app.js';
import { Connection } from './connection.js';
import { $, setAvatarSource } from './dom.js';
import { Store } from './store.js';
import { closePicker, setupPicker } from './emoji-picker.js';
import { renderList, convTitle, resetList } from './list-view.js';
import {
  maybeMarkRead, noteIncoming, openConversation, renderChat, renderChatHead, renderMessages,
  renderSendState, renderTyping, resetChat, setupChat,
} from './chat-view.js';
import { resetComposer, setupComposer } from './composer.js';
import { setupFiles } from './files.js';
import { openDirectory, renderFriends, setupPeople } from './people-view.js';
import { loadGroupDialog, setupGroupSettings } from './group-settings-view.js';
import { routeJoin, setupJoin } from './join-view.js';
import { setupSearch } from './search-view.js';
import { setupSettings } from './settings-view.js';
import { loadBlocked, setupAccount } from './account-view.js';
import { setupPush, syncPush } from './push.js';
import { notifyIncoming, setFaviconBadge } from './notify.js';
import { isAdminRoute, openAdmin, resetAdmin, showAdminLink } from './admin/admin-page.js';

const TOKEN_KEY = 'monochat.token';
let selectAuth = () => {};
const api = app.api;
const ui = app.ui;
app.openConversation = openConversation;

// ---------------------------------------------------------------------------------------
// Signing in
function showAuth() {
  $('shell').hidden = true;
  $('auth').hidden = false;
  $('offline-banner').hidden = true;
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
  const conn = new Connection(() => api.token, {
    onHello: () => onConnected(),
    onFrame: (f) => app.store.handleFrame(f),
    onState: () => renderConnState(),
    onAuthLost: () => endSession('You were logged out.'),
    onRepeatedFailure: () => api.me().catch(() => {}),
  });
  const store = new Store(api, conn);
  app.conn = conn;
  app.store = store;
  store.me = user;
  store.rememberUser(user);
  store.on(onStoreChange);
  // Profile pictures: the thumbnail of the user's avatar file, fetched once per file.
  setAvatarSource((uid) => {
    const u = uid === store.me.user_id ? store.me : store.users.get(uid);
    return u && u.avatar_file_id ? api.fileUrl(u.avatar_file_id, true) : null;
  });
  api.onUnauthenticated = () => endSession('Your session has ended; please log in again.');
  window.monochat = { store, conn, ui, list: () => import('./chat-view.js').then((m) => m.messageList()) };

  $('auth').hidden = true;
  $('shell').hidden = false;
  $('me-name').textContent = user.display_name || user.username;
  document.body.classList.toggle('guest', !!user.guest);
  for (const id of ['side-friends', 'side-groups']) $(id).hidden = !!user.guest;
  renderConnState();
  api.me().then((r) => { if (app.store === store) showAdminLink(!!r.admin); }).catch(() => {});

  await store.loadConversations();
  if (!user.guest) {
    await Promise.all([store.loadFriends(), store.loadRequests(), loadBlocked()]).catch(() => {});
  }
  conn.start();
  const first = store.conv('world') || store.conv(store.order[0]);
  if (first && !isPhone()) openConversation(first.id, { focus: false });
  else renderChat();
  syncPush();
  routeJoin();
  route();
}

// Pages named by the address's hash: #/admin (admin/admin-page.js) for a signed-in user;
// #/register/<invite code> (the admin page's invite links) opens Register with the code in.
function route() {
  if (app.store && isAdminRoute()) openAdmin();
  const invite = /^#\/register\/([^/]+)$/.exec(location.hash);
  if (!app.store && invite) {
    selectAuth('tab-register');
    $('form-register').elements.invite_code.value = decodeURIComponent(invite[1]);
  }
}
window.addEventListener('hashchange', route);

// After every hello, the first one included: whatever happened between loading the page and
// this connection (messages, presence, requests) is fetched, so nothing waits for the next push.
async function onConnected() {
  const store = app.store;
  const conn = app.conn;
  conn.send({ type: 'subscribe', conversation_id: 'world', id: 'sub-world' });
  try {
    // The list (previews, unread counts), then every conversation held here synced from its
    // last seq, then friends with their presence.
    await store.resync();
    if (!store.me.guest) await Promise.all([store.loadFriends(), store.loadRequests()]);
  } catch (e) {
    /* the next reconnect tries again */
  }
  if (app.store !== store) return;
  store.resendFailed();
  if (ui.active) {
    maybeMarkRead();
    store.loadReceipts(ui.active).catch(() => {});
  }
  renderConnState();
}

async function endSession(message) {
  if (app.conn) app.conn.stop();
  localStorage.removeItem(TOKEN_KEY);
  api.token = null;
  api.forgetFiles();
  setAvatarSource(null);
  app.store = null;
  app.conn = null;
  ui.active = null;
  resetChat();
  resetComposer();
  closePicker();
  resetList();
  resetAdmin();
  for (const id of ['search-results', 'find-results', 'friend-list', 'incoming', 'outgoing', 'directory-results']) {
    $(id).replaceChildren();
  }
  $('panel-search').hidden = true;
  $('search-input').value = '';
  for (const d of document.querySelectorAll('dialog')) if (d.open) d.close();
  document.body.classList.remove('in-chat');
  setFaviconBadge(0);
  showAuth();
  if (message) $('auth-error').textContent = message;
}

async function logout() {
  try {
    await api.logout();
  } catch (e) { /* the token is dropped here either way */ }
  endSession('');
}

// The connection's state: a line under one's name, and while disconnected a banner across the
// top with the countdown to the next attempt and a button to try at once.
function renderConnState() {
  const conn = app.conn;
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
  // The banner: once a connection failed (not while the first one is being made).
  const down = s === 'waiting' || (s === 'connecting' && conn.attempt > 0);
  $('offline-banner').hidden = !down;
  if (down) {
    const secs = Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000));
    $('offline-text').textContent = s === 'connecting'
      ? 'Not connected. Connecting…'
      : `${navigator.onLine ? 'Not connected' : 'You are offline'}. Trying again in ${secs} s.`;
  }
}
setInterval(() => { if (app.conn && app.conn.state === 'waiting') renderConnState(); }, 1000);

// ---------------------------------------------------------------------------------------
// Store changes
function onStoreChange(what, cid, extra) {
  const store = app.store;
  if (!store) return;
  switch (what) {
    case 'list':
    case 'users':
    case 'presence':
      if (ui.active && !store.conv(ui.active.id)) {
        // Removed from the group (or it is gone): close it.
        if ($('group-dialog').open) $('group-dialog').close();
        ui.active = null;
        resetChat();
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
        renderMessages();
        maybeMarkRead();
      }
      break;
    case 'incoming': {
      const c = store.conv(cid);
      if (!c) break;
      if (ui.active && ui.active.id === cid) noteIncoming(c, extra);
      const m = extra;
      notifyIncoming(store, c, m, {
        title: c.kind === 'direct' ? store.name(m.sender_id) : `${store.name(m.sender_id)} in ${convTitle(c)}`,
        body: m.body && m.body.text ? m.body.text.slice(0, 200) : 'New message',
        onOpen: () => openConversation(c.id),
      });
      break;
    }
    case 'typing':
      if (ui.active && ui.active.id === cid) renderTyping();
      break;
    case 'friends':
      renderFriends();
      break;
    case 'group':
      if (ui.active && ui.active.id === cid && $('group-dialog').open) loadGroupDialog();
      break;
    case 'sendmute':
      if (ui.active && ui.active.id === cid) renderSendState();
      break;
    case 'notice':
      toast(cid);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------
// Global wiring
function wire() {
  selectAuth = setupTabs(['tab-login', 'tab-register', 'tab-guest']);
  selectAuth('tab-login');
  app.selectSide = setupTabs(['side-chats', 'side-friends', 'side-groups'], (id) => {
    if (id === 'side-friends' && app.store) app.store.loadRequests().catch(() => {});
    if (id === 'side-groups' && app.store) openDirectory();
  });
  $('form-login').addEventListener('submit', (ev) => authSubmit(ev, (d) => api.login(d.username, d.password)));
  $('form-register').addEventListener('submit', (ev) => authSubmit(ev, async (d) => {
    const r = await api.register(d.username, d.password, d.display_name, d.invite_code.trim());
    if (location.hash.startsWith('#/register/')) history.replaceState(null, '', location.pathname + location.search);
    return r;
  }));
  $('form-reset').addEventListener('submit', (ev) => authSubmit(ev, (d) => api.resetPassword(d.reset_token.trim(), d.new_password)));
  $('form-guest').addEventListener('submit', (ev) => authSubmit(ev, (d) => api.guest(d.display_name)));
  $('logout').addEventListener('click', logout);
  $('offline-retry').addEventListener('click', () => { if (app.conn) app.conn.now(); });
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
  $('back').addEventListener('click', () => {
    document.body.classList.remove('in-chat');
    const btn = ui.active && $('conv-list').querySelector(`[data-cid="${CSS.escape(ui.active.id)}"]`);
    if (btn) btn.focus();
  });
  window.addEventListener('offline', () => { if (app.conn) app.conn.drop(); renderConnState(); });
  window.addEventListener('online', () => { if (app.conn) app.conn.now(); });
  setupPicker();
  setupChat();
  setupComposer();
  setupFiles();
  setupPeople();
  setupGroupSettings();
  setupJoin();
  setupSearch();
  setupSettings();
  setupAccount({
    ended: (message) => endSession(message),
    renamed: (me) => { $('me-name').textContent = me.display_name || me.username; },
  });
  setupPush();
}

async function boot() {
  wire();
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) {
    route();
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
      if (app.conn) app.conn.stop();
      app.conn = null;
      app.store = null;
      // The server is restarting or unreachable: keep the token and try again.
      showAuth();
      $('auth-error').textContent = `${explain(e)} Trying again…`;
      await new Promise((r) => setTimeout(r, Math.min(15000, 1000 * 2 ** attempt)));
      // Stop when the person signed in meanwhile, or out.
      if (app.store || localStorage.getItem(TOKEN_KEY) !== token) return;
    }
  }
}

boot();
