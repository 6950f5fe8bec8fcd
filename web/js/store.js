// Client state and the rules that keep it right: messages are held per conversation by seq and
// ingested strictly in seq order, so that a message is never shown twice and operations (edit,
// recall, reaction) are applied in the order the server stored them. A push that arrives ahead
// of a gap waits in a buffer until `sync` fills the gap.

const TEXT = 'text';
// Messages shown as rows (the others are operations on them).
const shown = (b) => !!b && (b.type === TEXT || b.type === 'file');

export function newClientMsgId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return `c${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
}

export class Store {
  constructor(api, conn) {
    this.api = api;
    this.conn = conn;
    this.me = null;
    this.convs = new Map(); // cid -> conversation
    this.order = [];
    this.users = new Map(); // uid -> user
    this.userLoads = new Map();
    this.friends = new Map(); // uid -> user (with online)
    this.requests = { incoming: [], outgoing: [] };
    this.listeners = new Set();
    this.syncing = new Set();
    this.deleted = new Set(); // conversations of groups deleted while this page was open
  }

  on(fn) { this.listeners.add(fn); }
  emit(what, cid, extra) { for (const fn of this.listeners) fn(what, cid, extra); }

  // ---- users ---------------------------------------------------------------------------
  rememberUser(u) {
    if (!u || !u.user_id) return;
    const old = this.users.get(u.user_id);
    this.users.set(u.user_id, { ...old, ...u });
  }

  name(uid) {
    if (this.me && uid === this.me.user_id) return this.me.display_name || this.me.username;
    const u = this.users.get(uid);
    if (u) return u.display_name || u.username;
    this.loadUser(uid);
    return `user ${String(uid).slice(-4)}`;
  }

  isGuest(uid) {
    if (this.me && uid === this.me.user_id) return !!this.me.guest;
    const u = this.users.get(uid);
    return !!(u && u.guest);
  }

  isBot(uid) {
    if (this.me && uid === this.me.user_id) return !!this.me.bot;
    const u = this.users.get(uid);
    return !!(u && u.bot);
  }

  loadUser(uid) {
    if (!uid || this.users.has(uid) || this.userLoads.has(uid)) return;
    const p = this.api.user(uid).then((r) => {
      this.rememberUser(r.user);
      this.emit('users');
    }).catch(() => {}).finally(() => this.userLoads.delete(uid));
    this.userLoads.set(uid, p);
  }

  online(uid) {
    const f = this.friends.get(uid);
    if (f) return !!f.online;
    const u = this.users.get(uid);
    return !!(u && u.online);
  }

  // ---- conversation list ---------------------------------------------------------------
  conv(cid) { return this.convs.get(cid); }

  ensureConv(entry) {
    let c = this.convs.get(entry.conversation_id);
    if (!c) {
      c = {
        id: entry.conversation_id,
        kind: entry.kind || (entry.conversation_id.startsWith('group:') ? 'group'
          : entry.conversation_id === 'world' ? 'world' : 'direct'),
        title: entry.title || entry.conversation_id,
        last_seq: 0, read_seq: 0, unread: 0, mentions_unread: 0, last_message: null, muted_until: 0,
        group_id: entry.group_id || (entry.conversation_id.startsWith('group:') ? entry.conversation_id.slice(6) : undefined),
        peer_id: entry.peer_id || this.peerOf(entry.conversation_id),
        msgs: new Map(), // seq -> message, every seq from `low` to `held`
        held: null, // highest seq held with no gap below it (null: never loaded)
        low: null, // lowest seq held
        hasOlder: false,
        buffer: new Map(), // seq -> message waiting for a gap to be filled
        pending: new Map(), // client_msg_id -> {cmid, body, status, error, seq}
        readers: new Map(), // uid -> read seq (receipts)
        typing: new Map(), // uid -> expiry time
        loading: null,
        activity: 0,
      };
      this.convs.set(c.id, c);
    }
    return c;
  }

  // The other user of `dm:<low>:<high>`.
  peerOf(cid) {
    const m = /^dm:(\d+):(\d+)$/.exec(cid);
    if (!m || !this.me) return undefined;
    return m[1] === this.me.user_id ? m[2] : m[1];
  }

  applyEntry(e) {
    const c = this.ensureConv(e);
    c.kind = e.kind || c.kind;
    c.title = e.title || c.title;
    c.group_id = e.group_id || c.group_id;
    c.peer_id = e.peer_id || c.peer_id;
    c.last_seq = Math.max(c.last_seq, e.last_seq || 0);
    c.read_seq = Math.max(c.read_seq, e.read_seq || 0);
    c.mentions_unread = e.mentions_unread || 0;
    if (e.muted_until !== undefined) c.muted_until = e.muted_until || 0;
    if (e.last_message && (!c.last_message || e.last_message.seq >= c.last_message.seq)) {
      c.last_message = e.last_message;
    }
    if (c.last_message) c.activity = Math.max(c.activity, c.last_message.ts || 0);
    if (c.peer_id) this.loadUser(c.peer_id);
    return c;
  }

  unread(c) { return Math.max(0, c.last_seq - c.read_seq); }

  isMuted(c) { return !!(c && c.muted_until && c.muted_until > Date.now()); }

  // Mutes (until a time in ms) or unmutes (0) a conversation for every device of this user.
  async setMuted(c, until) {
    const r = await this.api.mute(c.id, until);
    c.muted_until = r.muted_until || 0;
    this.emit('list');
    return c.muted_until;
  }

  async loadConversations() {
    // A guest may use `world` only and may not list conversations (403): its list is `world`.
    const r = this.me && this.me.guest
      ? { conversations: [{ conversation_id: 'world', kind: 'world', title: 'World', last_seq: 0, read_seq: 0 }] }
      : await this.api.conversations();
    const seen = new Set();
    const order = [];
    for (const e of r.conversations) {
      // A list read before a deletion may still hold the group.
      if (this.deleted.has(e.conversation_id)) continue;
      this.applyEntry(e);
      seen.add(e.conversation_id);
      order.push(e.conversation_id);
    }
    // Direct chats never go away (one opened here may have no message yet, and the list may
    // lag a push by a moment); a group missing from the list was left, unless a message of it
    // arrived just now.
    for (const [cid, c] of this.convs) {
      if (seen.has(cid)) continue;
      if (c.kind !== 'group' || (c.pushedAt && Date.now() - c.pushedAt < 10000)) order.push(cid);
      else this.convs.delete(cid);
    }
    this.order = order;
    this.emit('list');
  }

  sortList() {
    this.order.sort((a, b) => {
      const ca = this.convs.get(a);
      const cb = this.convs.get(b);
      return (cb.activity || 0) - (ca.activity || 0);
    });
  }

  // ---- messages ------------------------------------------------------------------------
  // Messages of a fetched page carry their current state (edits, recall, reactions).
  storeFetched(c, m) {
    const old = c.msgs.get(m.seq);
    c.msgs.set(m.seq, old ? { ...old, ...m, text: m.text, body: m.body } : { ...m });
  }

  // Applies an operation message to its target, if held.
  applyOp(c, m) {
    const b = m.body || {};
    const t = c.msgs.get(b.target_seq);
    if (!t || !shown(t.body)) return;
    if (t.body.type !== TEXT && b.type === 'edit') return;
    if (b.type === 'edit') {
      // A recall removes the text of the target's edits too (protocol 1.1): such an edit,
      // read back from history or sync, carries `recalled` and no text.
      if (t.recalled || m.recalled || typeof b.text !== 'string') return;
      t.body = { ...t.body, text: b.text };
      t.edited_at = m.ts;
    } else if (b.type === 'recall') {
      t.recalled = true;
      t.body = { ...t.body };
      delete t.body.text;
      delete t.body.caption;
      delete t.body.file;
      delete t.reactions;
    } else if (b.type === 'reaction') {
      if (t.recalled) return;
      t.reactions = applyReaction(t.reactions, b, m.sender_id, this.me && this.me.user_id);
    }
  }

  // Every new message seen in order (push, ack, sync) comes through here.
  noteSummary(c, m) {
    c.last_seq = Math.max(c.last_seq, m.seq);
    if (shown(m.body) && (!c.last_message || m.seq >= c.last_message.seq)) {
      c.last_message = m;
    }
    c.activity = Math.max(c.activity, m.ts || Date.now());
    if (this.me && m.sender_id === this.me.user_id) {
      c.read_seq = Math.max(c.read_seq, m.seq);
    } else if (this.isMention(m) && m.seq > c.read_seq) {
      c.mentions_unread += 1;
    }
  }

  isMention(m) {
    return !!(this.me && m.body && Array.isArray(m.body.mentions) &&
              m.body.mentions.includes(this.me.user_id));
  }

  // A message that is new at the top of the conversation (pushed, acked, or synced).
  receive(c, m) {
    if (c.held === null) {
      // Not loaded: only the list entry changes; opening it fetches the latest page.
      if (m.seq > c.last_seq) this.noteSummary(c, m);
      if (c.loading) c.buffer.set(m.seq, m);
      return;
    }
    if (m.seq <= c.held || c.buffer.has(m.seq)) return;
    c.buffer.set(m.seq, m);
    this.drain(c);
  }

  drain(c) {
    let changed = false;
    for (const seq of [...c.buffer.keys()]) {
      if (seq <= c.held) c.buffer.delete(seq);
    }
    while (c.buffer.has(c.held + 1)) {
      const m = c.buffer.get(c.held + 1);
      c.buffer.delete(c.held + 1);
      c.held += 1;
      if (c.low === null) c.low = m.seq;
      c.msgs.set(m.seq, { ...m });
      if (m.body && !shown(m.body)) this.applyOp(c, m);
      if (m.seq > c.last_seq || !c.last_message || m.seq > c.last_message.seq) this.noteSummary(c, m);
      this.settlePending(c, m);
      // Their message is what they were typing: the indicator goes with it.
      if (c.typing.delete(m.sender_id)) this.emit('typing', c.id);
      changed = true;
    }
    if (c.buffer.size > 0) this.syncSoon(c);
    if (changed) {
      this.sortList();
      this.emit('messages', c.id);
    }
  }

  settlePending(c, m) {
    if (!this.me || m.sender_id !== this.me.user_id || !m.client_msg_id) return;
    if (c.pending.delete(m.client_msg_id)) this.emit('messages', c.id);
  }

  // Loads the latest page of a conversation the first time it is opened.
  async open(c) {
    if (c.held !== null || c.loading) return c.loading;
    c.loading = (async () => {
      const r = await this.api.history(c.id, { limit: 50 });
      let top = 0;
      for (const m of r.messages) {
        this.storeFetched(c, m);
        top = Math.max(top, m.seq);
        if (m.seq >= c.last_seq) this.noteSummary(c, m);
      }
      c.low = r.messages.length ? r.messages[0].seq : null;
      c.held = Math.max(top, 0);
      c.hasOlder = !!r.has_more;
      if (c.low === null) c.low = c.held + 1;
      this.drain(c);
      // Anything stored since the page was cut comes by sync.
      if (c.last_seq > c.held) this.syncSoon(c, 0);
      this.emit('messages', c.id);
      this.loadReceipts(c, r.messages).catch(() => {});
    })();
    try {
      await c.loading;
    } finally {
      c.loading = null;
    }
    return undefined;
  }

  async loadOlder(c) {
    if (!c.hasOlder || c.loadingOlder || c.held === null) return false;
    c.loadingOlder = true;
    try {
      const r = await this.api.history(c.id, { before: c.low, limit: 100 });
      for (const m of r.messages) {
        // Older operations are already reflected in the state their targets came with.
        if (!c.msgs.has(m.seq)) c.msgs.set(m.seq, { ...m });
        else this.storeFetched(c, m);
      }
      if (r.messages.length) c.low = Math.min(c.low, r.messages[0].seq);
      c.hasOlder = !!r.has_more && r.messages.length > 0;
      this.emit('older', c.id);
      this.loadReceipts(c, r.messages).catch(() => {});
      return r.messages.length > 0;
    } finally {
      c.loadingOlder = false;
    }
  }

  syncSoon(c, delay = 400) {
    clearTimeout(c.syncTimer);
    c.syncTimer = setTimeout(() => this.sync(c).catch(() => {}), delay);
  }

  // Fetches everything after the last seq held, in order, until the server says no more.
  async sync(c) {
    if (c.held === null || this.syncing.has(c.id)) return;
    this.syncing.add(c.id);
    try {
      for (let round = 0; round < 1000; round++) {
        let r;
        if (this.conn.isOpen) {
          r = await this.conn.request({ type: 'sync', conversation_id: c.id, after_seq: c.held, limit: 200 });
        } else {
          r = await this.api.history(c.id, { after: c.held, limit: 200 });
        }
        for (const m of r.messages) {
          if (m.seq <= c.held) continue;
          // State on synced text messages is current; newer operations in the same page
          // are applied again on top, in order, which lands on the same state.
          c.buffer.set(m.seq, m);
        }
        const before = c.held;
        this.drain(c);
        for (const m of r.messages) {
          if (shown(m.body) && c.msgs.has(m.seq)) this.storeFetched(c, m);
        }
        if (!r.has_more || c.held === before) break;
      }
      this.emit('messages', c.id);
    } finally {
      this.syncing.delete(c.id);
    }
  }

  // After (re)connecting: refresh the list, then sync every conversation held on screen.
  async resync() {
    await this.loadConversations();
    const jobs = [];
    for (const c of this.convs.values()) {
      if (c.held !== null) jobs.push(this.sync(c).catch(() => {}));
    }
    await Promise.all(jobs);
  }

  // ---- sending -------------------------------------------------------------------------
  async send(c, body) {
    const cmid = newClientMsgId();
    const p = { cmid, body, status: 'sending', error: null, ts: Date.now() };
    c.pending.set(cmid, p);
    this.emit('messages', c.id);
    await this.transmit(c, p);
    return p;
  }

  retry(c, cmid) {
    const p = c.pending.get(cmid);
    if (!p) return;
    p.status = 'sending';
    p.error = null;
    this.emit('messages', c.id);
    this.transmit(c, p);
  }

  discard(c, cmid) {
    c.pending.delete(cmid);
    this.emit('messages', c.id);
  }

  // Sends once, with the pending message's own client_msg_id, so a retry can never store it
  // twice. A transport failure leaves it 'failed' (a retry button, or the next reconnect, sends
  // it again); a refusal by the server leaves it 'failed' with the reason.
  async transmit(c, p) {
    try {
      const ack = await this.conn.request(
        { type: 'send', conversation_id: c.id, client_msg_id: p.cmid, body: p.body }, 10000);
      if (!c.pending.has(p.cmid)) return;
      p.status = 'sent';
      p.seq = ack.seq;
      const m = {
        message_id: ack.message_id, conversation_id: c.id, seq: ack.seq,
        sender_id: this.me.user_id, client_msg_id: p.cmid, ts: ack.ts, body: p.body,
      };
      this.receive(c, m);
      if (c.held === null) c.pending.delete(p.cmid);
      this.emit('messages', c.id);
    } catch (err) {
      if (!c.pending.has(p.cmid)) return;
      if (c.kind === 'group' && err.code === 'forbidden' && /muted/.test(err.message || '')) {
        // Muted before this page could hear of it: say so (until when is not known here).
        if (!c.sendMute) this.setSendMute(c, { until: null, known: false });
      }
      p.status = 'failed';
      p.transport = !!err.transport;
      p.error = err.transport ? 'Not sent: no connection.' : (err.message || err.code || 'Not sent.');
      // Slow mode and the send rate say when the next message may go.
      if (err.code === 'rate_limited' && err.retry_after_s) p.error += `; wait ${err.retry_after_s} s`;
      this.emit('messages', c.id);
    }
  }

  // On reconnect, messages that failed only for want of a connection go out again.
  resendFailed() {
    for (const c of this.convs.values()) {
      for (const p of c.pending.values()) {
        if ((p.status === 'failed' && p.transport) || p.status === 'sending') this.retry(c, p.cmid);
      }
    }
  }

  // ---- reading -------------------------------------------------------------------------
  markRead(c) {
    const seq = c.held === null ? c.last_seq : Math.max(c.held, c.last_seq);
    if (seq <= c.read_seq && c.mentions_unread === 0) return;
    c.read_seq = Math.max(c.read_seq, seq);
    c.mentions_unread = 0;
    if (seq > 0) {
      if (!this.conn.send({ type: 'read', conversation_id: c.id, seq })) {
        this.api.markRead(c.id, seq).catch(() => {});
      }
    }
    this.emit('list');
  }

  // What the sender sees of its own message: sent, or read (by the peer / by n members).
  readState(c, m) {
    if (c.kind === 'world') return { label: 'sent', n: 0 };
    let n = 0;
    for (const [uid, seq] of c.readers) {
      if (uid !== this.me.user_id && seq >= m.seq) n += 1;
    }
    if (n === 0) return { label: 'sent', n };
    return { label: c.kind === 'direct' ? 'read' : `read by ${n}`, n };
  }

  // Read receipts of every message shown come from the other members' read positions, asked of
  // the server for the caller's own messages among `msgs` (a page just loaded; all held ones
  // when omitted), newest first. Positions only move forward, so once a message is read by
  // everyone (the peer, or every other member) the older ones are too, and the asking stops.
  async loadReceipts(c, msgs) {
    if (c.kind === 'world' || c.held === null || !this.me) return;
    const mine = [...(msgs || c.msgs.values())]
      .filter((m) => m.sender_id === this.me.user_id && shown(m.body))
      .sort((a, b) => b.seq - a.seq);
    let asked = 0;
    let changed = false;
    for (const m of mine) {
      if (c.kind === 'direct' && this.readState(c, m).n > 0) break;
      if (asked >= 8) break;
      asked += 1;
      let r;
      try {
        r = await this.api.readers(c.id, m.seq);
      } catch (e) {
        break;
      }
      for (const uid of r.read_by || []) {
        if ((c.readers.get(uid) || 0) < m.seq) {
          c.readers.set(uid, m.seq);
          changed = true;
        }
      }
      // Read by every other member: so are the older ones.
      const meToo = (r.read_by || []).includes(this.me.user_id) ? 1 : 0;
      if (r.member_count && r.read_count - meToo >= r.member_count - 1) break;
    }
    if (changed) this.emit('messages', c.id);
  }

  loadReaders(c) { return this.loadReceipts(c); }

  // ---- pushes --------------------------------------------------------------------------
  handleFrame(f) {
    switch (f.type) {
      case 'message': {
        const m = f.message;
        let c = this.convs.get(m.conversation_id);
        if (!c) {
          c = this.ensureConv({ conversation_id: m.conversation_id });
          c.pushedAt = Date.now();
          if (c.peer_id) c.title = this.name(c.peer_id);
          this.order.unshift(c.id);
          // A new conversation (a first direct message, a group we were added to): its
          // title and kind come with the list.
          this.loadConversations().catch(() => {});
        }
        this.receive(c, m);
        this.sortList();
        this.emit('list');
        this.emit('incoming', c.id, m);
        break;
      }
      case 'receipt': {
        const c = this.convs.get(f.conversation_id);
        if (!c) break;
        if (this.me && f.user_id === this.me.user_id) {
          c.read_seq = Math.max(c.read_seq, f.seq);
          this.emit('list');
        } else {
          c.readers.set(f.user_id, Math.max(c.readers.get(f.user_id) || 0, f.seq));
          this.emit('messages', c.id);
        }
        break;
      }
      case 'typing': {
        const c = this.convs.get(f.conversation_id);
        if (!c || (this.me && f.user_id === this.me.user_id)) break;
        c.typing.set(f.user_id, Date.now() + 5000);
        this.emit('typing', c.id);
        setTimeout(() => this.emit('typing', c.id), 5100);
        break;
      }
      case 'presence': {
        const f2 = this.friends.get(f.user_id);
        if (f2) f2.online = f.online;
        const u = this.users.get(f.user_id);
        if (u) u.online = f.online;
        this.emit('presence');
        break;
      }
      case 'event':
        this.handleEvent(f);
        break;
      default:
        break;
    }
  }

  handleEvent(f) {
    switch (f.event) {
      case 'friend_request': {
        this.loadRequests().catch(() => {});
        // The toast names the person: wait for their profile if it is not known yet.
        const uid = f.request.from_user_id;
        const say = () => this.emit('notice', `${this.name(uid)} sent you a friend request.`);
        if (this.users.has(uid)) say();
        else this.api.user(uid).then((r) => this.rememberUser(r.user)).catch(() => {}).finally(say);
        break;
      }
      case 'conversation_updated': {
        const c = this.convs.get(f.conversation_id);
        if (c) {
          c.muted_until = f.muted_until || 0;
          this.emit('list');
        }
        break;
      }
      case 'friend_added':
        this.rememberUser(f.user);
        this.loadFriends().catch(() => {});
        this.loadRequests().catch(() => {});
        break;
      case 'group_updated': {
        // Name and description show at once, before the list is read again.
        const c = f.group && this.convs.get(f.group.conversation_id);
        if (c) {
          c.title = f.group.name;
          c.description = f.group.description || '';
          c.public = !!f.group.public;
          if (this.me && f.user_id === this.me.user_id && f.role) c.myRole = f.role;
          this.emit('list');
        }
        this.loadConversations().catch(() => {});
        this.emit('group', f.group && f.group.conversation_id);
        break;
      }
      case 'member_joined':
      case 'member_left':
        this.loadConversations().catch(() => {});
        this.emit('group', f.conversation_id);
        break;
      case 'group_deleted':
        this.dropGroup(f.conversation_id, true);
        break;
      case 'member_muted':
      case 'member_unmuted': {
        const c = this.convs.get(f.conversation_id);
        if (!c || !this.me || f.user_id !== this.me.user_id) break;
        this.setSendMute(c, f.event === 'member_muted'
          ? { until: f.until === null || f.until === undefined ? null : Number(f.until), known: true } : null);
        break;
      }
      default:
        break;
    }
  }

  // The group's owner deleted it (or this user did): it leaves the list, and a notice says so
  // when someone else did.
  dropGroup(cid, notify) {
    const c = this.convs.get(cid);
    this.deleted.add(cid);
    if (!c) return;
    this.setSendMute(c, null);
    this.convs.delete(cid);
    this.order = this.order.filter((id) => id !== cid);
    this.emit('list');
    if (notify) this.emit('notice', `The group “${c.title}” was deleted.`);
  }

  // Whether this user may not send in a group (a moderator's mute): `{until, known}` with
  // `until` in Unix ms or null (until lifted, or not known), or null when not muted. A mute
  // with an end is lifted here when it runs out (the server sends no event then).
  setSendMute(c, mute) {
    clearTimeout(c.sendMuteTimer);
    c.sendMute = mute;
    if (mute && mute.until !== null) {
      const left = mute.until - Date.now();
      if (left <= 0) c.sendMute = null;
      // Timers hold at most 2^31-1 ms; a longer mute waits for an unmute or a reload.
      else if (left < 2 ** 31 - 1) c.sendMuteTimer = setTimeout(() => this.setSendMute(c, null), left + 500);
    }
    this.emit('sendmute', c.id);
  }

  sendMuted(c) { return !!(c && c.sendMute); }

  async loadFriends() {
    if (this.me.guest) return;
    const r = await this.api.friends();
    this.friends = new Map(r.friends.map((u) => [u.user_id, u]));
    for (const u of r.friends) this.rememberUser(u);
    this.emit('friends');
  }

  async loadRequests() {
    if (this.me.guest) return;
    this.requests = await this.api.requests();
    for (const r of [...this.requests.incoming, ...this.requests.outgoing]) {
      this.loadUser(r.from_user_id);
      this.loadUser(r.to_user_id);
    }
    this.emit('friends');
  }

  // Opens (or creates locally) the direct chat with a user.
  async directWith(uid) {
    const r = await this.api.dm(uid);
    let c = this.convs.get(r.conversation_id);
    if (!c) {
      c = this.ensureConv({ conversation_id: r.conversation_id, kind: 'direct', peer_id: uid,
                            title: this.name(uid) });
      this.order.unshift(c.id);
      this.emit('list');
    }
    return c;
  }
}

// A pushed reaction applied to a summary {emoji: {count, users, me}}. The summary lists only the
// first FIRST_REACTORS users, so for someone beyond them the client cannot tell a repeated add
// (which the server ignores) from a new one; it counts it, and the next fetch of the page
// brings the exact figure. A first user who leaves is replaced on that fetch too.
export const FIRST_REACTORS = 10;

export function applyReaction(reactions, body, uid, myId) {
  const r = { ...(reactions || {}) };
  const old = r[body.emoji] || { count: 0, users: [], me: false };
  const cur = { count: old.count, users: [...old.users], me: !!old.me };
  const listed = cur.users.includes(uid);
  const isMe = uid === myId;
  // Known to have reacted: listed, or it is me and the server said so.
  const had = listed || (isMe && cur.me);
  // Known not to have reacted: the list holds everyone, or it is me and the server said so.
  const hadNot = !had && (cur.count <= cur.users.length || isMe);
  if (body.op === 'add') {
    if (had) return r;
    cur.count += 1;
    if (cur.users.length < FIRST_REACTORS && hadNot) cur.users.push(uid);
    if (isMe) cur.me = true;
  } else {
    if (hadNot) return r;
    cur.count = Math.max(0, cur.count - 1);
    cur.users = cur.users.filter((u) => u !== uid);
    if (isMe) cur.me = false;
  }
  if (cur.count > 0) r[body.emoji] = cur;
  else delete r[body.emoji];
  return r;
}
