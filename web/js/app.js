// What the views share: the API client, the session's store and connection (null while signed
// out), the UI state, and a few functions every view calls. Views import `app` and read its
// fields when they run, so a new session is seen everywhere at once.

import { Api, ApiError } from './api.js';
import { $ } from './dom.js';

export const app = {
  api: new Api(),
  store: null,
  conn: null,
  ui: {
    active: null, // the open conversation
    reply: null, // seq being replied to
    edit: null, // seq being edited
    lastTypingSent: 0,
    dividerSeq: null, // the read position when the open conversation was opened
    newCount: 0, // messages that arrived while scrolled up
  },
  // Filled in by the views (they depend on each other only through here).
  openConversation: async () => {},
  selectSide: () => {},
};

export function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove('show'), 4000);
}

export function explain(e) {
  if (e instanceof ApiError) {
    if (e.code === 'rate_limited') return `Too many attempts; try again in ${e.retryAfter || 'a few'} s.`;
    return e.message || e.code;
  }
  return (e && (e.message || e.code)) || String(e);
}

export function isPhone() { return window.matchMedia('(max-width: 720px)').matches; }

// A user's name as shown next to their messages, with whether to add the guest tag.
export function displayName(uid) {
  const s = app.store;
  return s.name(uid);
}
