// The admin page's Stats section: GET /admin/stats, read again with Refresh.

import { h } from '../dom.js';
import { adminApi } from './admin-api.js';
import { duration, section, when } from './admin-ui.js';

export function statsSection() {
  const s = section('admin-stats', 'Stats', { refresh: () => load() });
  const list = h('dl', { class: 'admin-stats' });
  s.body.append(list);

  async function load() {
    s.line.show(null);
    let st;
    try {
      st = await adminApi.stats();
    } catch (e) {
      s.line.show(e);
      return;
    }
    const last = (st.config && st.config.last) || null;
    const rows = [
      ['Version', `${st.version}${st.commit ? ` (${st.commit})` : ''}`],
      ['Up for', duration(st.uptime_s || 0)],
      ['Online users', st.online_users],
      ['WebSocket connections', st.websocket_connections],
      ['WebSocket sessions', st.websocket_sessions],
      ['HTTP connections', st.http_connections],
      ['Conversations', st.conversations],
      ['Configuration reloads', st.config ? st.config.reloads : 0],
    ];
    if (last && last.at_ms) rows.push(['Last reload', `${when(last.at_ms)}${last.error ? `: ${last.error}` : ''}`]);
    list.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: String(v ?? '') })]));
    list.dataset.loaded = String(Date.now());
  }

  return { el: s.el, load };
}
