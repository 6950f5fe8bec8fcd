// Web Push (issue 21): the opt-in toggle in the settings dialog, the browser's subscription
// registered with the server (it belongs to this session: every login registers it again), and
// the service worker's "open this conversation" (a click on its notification).

import { app, explain } from './app.js';
import { $, h } from './dom.js';

const KEY = 'monochat.push';

export function pushSupported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && typeof Notification === 'function';
}

function keyBytes(b64url) {
  const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

async function subscribe() {
  let perm = Notification.permission;
  if (perm === 'default') perm = await Notification.requestPermission();
  if (perm !== 'granted') throw new Error('Notifications are blocked for this site in the browser’s settings.');
  const reg = await navigator.serviceWorker.register('/sw.js');
  await navigator.serviceWorker.ready;
  const { public_key: key } = await app.api.get('/push/vapid-key');
  let sub = await reg.pushManager.getSubscription();
  if (!sub) {
    sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
  }
  await app.api.post('/push/subscriptions', sub.toJSON());
}

async function unsubscribe() {
  const reg = await navigator.serviceWorker.getRegistration('/');
  const sub = reg && await reg.pushManager.getSubscription();
  if (!sub) return;
  await app.api.del(`/push/subscriptions?endpoint=${encodeURIComponent(sub.endpoint)}`).catch(() => {});
  await sub.unsubscribe();
}

// After each login: a subscription the person turned on is registered with this session, and
// a conversation named by the address (a notification opened this tab) is opened.
export async function syncPush() {
  const m = /^#c=(.+)$/.exec(location.hash);
  if (m) {
    history.replaceState(null, '', location.pathname);
    app.openConversation(decodeURIComponent(m[1]));
  }
  if (!pushSupported() || localStorage.getItem(KEY) !== 'on' || Notification.permission !== 'granted') return;
  try {
    await subscribe();
  } catch (e) {
    /* stays off for this session; the toggle shows it */
  }
}

export function setupPush() {
  const sound = $('set-sound');
  const anchor = sound && sound.closest('label');
  if (!anchor) return;
  const box = h('input', { type: 'checkbox', id: 'set-push' });
  const note = h('p', { id: 'set-push-note', class: 'sub' });
  anchor.after(h('label', { class: 'check' }, box,
    ' Push notifications for direct messages and mentions while no tab is open'), note);
  const render = async () => {
    box.disabled = !pushSupported();
    if (box.disabled) {
      box.checked = false;
      note.textContent = 'This browser has no push notifications.';
      return;
    }
    const reg = await navigator.serviceWorker.getRegistration('/');
    const sub = reg && await reg.pushManager.getSubscription();
    box.checked = !!sub && localStorage.getItem(KEY) === 'on';
  };
  $('settings').addEventListener('click', () => { render(); });
  box.addEventListener('change', async () => {
    note.textContent = '';
    box.disabled = true;
    try {
      if (box.checked) {
        await subscribe();
        localStorage.setItem(KEY, 'on');
      } else {
        localStorage.removeItem(KEY);
        await unsubscribe();
      }
    } catch (e) {
      localStorage.removeItem(KEY);
      note.textContent = explain(e);
    }
    box.disabled = false;
    await render();
  });
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.addEventListener('message', (ev) => {
      if (ev.data && ev.data.type === 'open-conversation' && app.store) app.openConversation(ev.data.conversation_id);
    });
  }
}
