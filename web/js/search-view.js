// Message search: the server's full-text search over every conversation the reader may read,
// matches highlighted, a result opening its conversation at that message.

import { app, explain } from './app.js';
import { $, h, timeOf } from './dom.js';
import { focusSeq } from './chat-view.js';
import { convTitle } from './list-view.js';
import { highlight } from './text.js';

function queryWords(q) {
  return q.replace(/["*]/g, ' ').split(/\s+/).filter(Boolean).map((w) => w.toLowerCase());
}

async function search(ev) {
  ev.preventDefault();
  const store = app.store;
  const q = $('search-input').value.trim();
  if (!q) return;
  $('panel-search').hidden = false;
  const list = $('search-results');
  list.replaceChildren(h('li', { class: 'sub', text: 'Searching…' }));
  try {
    const r = await app.api.search(q);
    const words = queryWords(q);
    list.replaceChildren(...(r.messages.length ? r.messages.map((m) => {
      const c = store.conv(m.conversation_id);
      const where = c ? convTitle(c) : m.conversation_id;
      const who = `${store.name(m.sender_id)}${store.isGuest(m.sender_id) ? ' (guest)' : ''}`;
      return h('li', {}, h('button', {
        type: 'button', class: 'result',
        onclick: () => app.openConversation(m.conversation_id, { seq: m.seq }).then(() => focusSeq(m.seq)),
      },
      h('span', { class: 'sub', text: `${where} · ${who} · ${timeOf(m.ts)}` }),
      h('span', { class: 'result-text' }, highlight(m.body.type === 'file'
        ? [m.body.file && m.body.file.name, m.body.caption].filter(Boolean).join(' — ')
        : m.body.text || '', words))));
    }) : [h('li', { class: 'sub', text: 'No messages found.' })]));
  } catch (e) {
    list.replaceChildren(h('li', { class: 'error', text: explain(e) }));
  }
}

export function setupSearch() {
  $('search-form').addEventListener('submit', search);
  $('search-close').addEventListener('click', () => {
    $('panel-search').hidden = true;
    $('search-input').focus();
  });
}
