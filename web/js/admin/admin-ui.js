// What the admin page's sections share: one error line per section that says what the server's
// answer means, a copy button, busy buttons, and times.

import { ApiError } from '../api.js';
import { toast } from '../app.js';
import { h } from '../dom.js';

// The server's refusal in words an admin can act on; the server's own message follows.
export function describe(e) {
  if (!(e instanceof ApiError)) return (e && e.message) || String(e);
  const said = e.message && e.message !== e.code ? e.message : '';
  switch (e.status) {
    case 0: return 'The server cannot be reached.';
    case 400: return `Refused: ${said || 'the request is not valid'}.`;
    case 401: return 'Your session has ended; log in again.';
    case 403: return `Not allowed${said ? `: ${said}` : ''}. Only the users named in auth.admins may use this page.`;
    case 404: return `Not found${said ? `: ${said}` : ''}.`;
    case 409: return `Conflict: ${said || 'the current state does not allow this'}.`;
    case 429: return `Too many requests; try again in ${e.retryAfter || 'a few'} s.`;
    default: return `${said || e.code} (${e.status}).`;
  }
}

// A section's error line (role=alert): `show(e)` with an error, `show(null)` clears it.
export function errorLine() {
  const el = h('p', { class: 'error', role: 'alert' });
  el.show = (e) => { el.textContent = e ? describe(e) : ''; };
  return el;
}

// Runs `fn` with `button` disabled; an error goes to `line`. Answers whether `fn` succeeded.
export async function busy(button, line, fn) {
  if (line) line.show(null);
  if (button) button.disabled = true;
  try {
    await fn();
    return true;
  } catch (e) {
    if (line) line.show(e);
    return false;
  } finally {
    if (button) button.disabled = false;
  }
}

// A read-only field with the text and a Copy button next to it. The clipboard API needs a
// secure context; elsewhere the text is selected and copied the old way.
export function copyField(label, text) {
  const input = h('input', { readonly: true, value: text, 'aria-label': label, class: 'copy-text', spellcheck: 'false' });
  const button = h('button', {
    type: 'button', text: 'Copy', 'aria-label': `Copy ${label.toLowerCase()}`,
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
      } catch (e) {
        input.select();
        document.execCommand('copy');
      }
      toast('Copied.');
    },
  });
  return h('span', { class: 'copy-field' }, input, button);
}

export function when(ms) {
  return ms ? new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '';
}

export function duration(s) {
  const parts = [];
  for (const [unit, n] of [['d', 86400], ['h', 3600], ['min', 60]]) {
    if (s >= n) {
      parts.push(`${Math.floor(s / n)} ${unit}`);
      s %= n;
    }
  }
  if (!parts.length) parts.push(`${s} s`);
  return parts.slice(0, 2).join(' ');
}

// A section of the page: its heading, an optional Refresh button, the error line and the body.
export function section(id, title, { refresh } = {}) {
  const head = h('div', { class: 'admin-head' }, h('h3', { id: `${id}-title`, text: title }));
  const line = errorLine();
  const body = h('div', { class: 'stack' });
  const el = h('section', { class: 'set-section admin-section', id, 'aria-labelledby': `${id}-title` }, head, line, body);
  if (refresh) {
    head.append(h('button', { type: 'button', class: 'ghost', text: 'Refresh', 'aria-label': `Refresh ${title.toLowerCase()}`, onclick: refresh }));
  }
  return { el, line, body };
}
