// The open conversation's messages as a windowed list: only the rows near the viewport are in
// the DOM (with spacers for the rest), so a conversation of thousands of messages keeps the page
// small and scrolling smooth. Rows are date separators, the unread divider, messages (grouped
// under one name and time when one sender writes several within a few minutes) and pending
// sends. Row heights are measured once rendered and estimated before; the row at the top of the
// viewport stays put whenever the rows above it change (older pages, measured heights).

import { dayKey, dayLabel } from './dom.js';

const GROUP_MS = 5 * 60 * 1000;
const OVERSCAN_PX = 900;
const ESTIMATE = { day: 40, unread: 34, msg: 64, grouped: 36, pending: 64 };

export class MessageList {
  // render(row) -> element; sig(row) -> string that changes when the row must be rebuilt.
  constructor(scroller, list, { render, sig }) {
    this.scroller = scroller;
    this.list = list;
    this.renderRow = render;
    this.sigOf = sig;
    this.rows = [];
    this.index = new Map(); // key -> row index
    this.heights = new Map(); // key -> measured px
    this.live = new Map(); // key -> {el, sig}
    this.stick = true;
    this.dirty = true;
    this.busy = false;
  }

  reset() {
    this.rows = [];
    this.index.clear();
    this.heights.clear();
    for (const r of this.live.values()) r.el.remove();
    this.live.clear();
    this.list.style.paddingTop = '0px';
    this.list.style.paddingBottom = '0px';
    this.stick = true;
    this.dirty = true;
  }

  // The rows of conversation `c`: `me` the reader, `dividerSeq` the read position when it was
  // opened (the unread divider goes before the first later message of someone else).
  build(c, me, dividerSeq) {
    const rows = [];
    const seqs = [...c.msgs.keys()].sort((a, b) => a - b);
    let prevDay = null;
    let prev = null;
    // The divider needs the read position inside what is loaded (else it would mark the top of
    // the loaded page, not where the reader left off).
    let divider = dividerSeq === null || dividerSeq === undefined ||
      (c.hasOlder && c.low !== null && c.low > dividerSeq + 1);
    for (const seq of seqs) {
      const m = c.msgs.get(seq);
      if (!m.body || (m.body.type !== 'text' && m.body.type !== 'file')) continue;
      const day = dayKey(m.ts);
      if (day !== prevDay) {
        rows.push({ key: `d${day}`, kind: 'day', label: dayLabel(m.ts) });
        prevDay = day;
        prev = null;
      }
      if (!divider && seq > dividerSeq && m.sender_id !== me) {
        rows.push({ key: 'unread', kind: 'unread' });
        divider = true;
        prev = null;
      }
      const grouped = !!prev && prev.sender_id === m.sender_id && m.ts - prev.ts < GROUP_MS &&
        !prev.recalled && !m.body.reply_to;
      rows.push({ key: `s${seq}`, kind: 'msg', m, grouped });
      prev = m;
    }
    for (const p of c.pending.values()) {
      rows.push({ key: `p${p.cmid}`, kind: 'pending', p, grouped: !!prev && prev.sender_id === me });
    }
    this.rows = rows;
    this.index = new Map(rows.map((r, i) => [r.key, i]));
    this.dirty = false;
  }

  heightOf(row) {
    const known = this.heights.get(row.key);
    if (known !== undefined) return known;
    if (row.kind === 'msg') return row.grouped ? ESTIMATE.grouped : ESTIMATE.msg;
    return ESTIMATE[row.kind];
  }

  atBottom(slack = 40) {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < slack;
  }

  // The list's top inside the scroller's content (what is above it: the "older" line).
  listTop() { return this.list.offsetTop; }

  // The first rendered row whose bottom is below the viewport's top, and its offset.
  anchor() {
    const top = this.scroller.scrollTop;
    for (const [key, r] of this.live) {
      if (r.el.offsetTop + r.el.offsetHeight > top) return { key, off: r.el.offsetTop - top };
    }
    return null;
  }

  // Renders the window around the viewport. `target`: {key, off} to put row `key` at `off` px
  // below the viewport's top (a jump); by default the current top row stays where it is, or the
  // bottom stays in view when it was.
  render(target = null) {
    if (this.busy) return;
    this.busy = true;
    try {
      this.renderNow(target);
    } finally {
      this.busy = false;
    }
  }

  renderNow(target) {
    const s = this.scroller;
    const stick = !target && (this.stick || this.atBottom(4));
    const anchor = target || (stick ? null : this.anchor());
    const n = this.rows.length;
    const tops = new Array(n + 1);
    tops[0] = 0;
    for (let i = 0; i < n; i++) tops[i + 1] = tops[i] + this.heightOf(this.rows[i]);
    const total = tops[n];
    const base = this.listTop();
    let viewTop;
    if (stick) viewTop = total - s.clientHeight;
    else if (anchor && this.index.has(anchor.key)) viewTop = tops[this.index.get(anchor.key)] - anchor.off;
    else viewTop = s.scrollTop - base;
    let start = 0;
    while (start < n && tops[start + 1] < viewTop - OVERSCAN_PX) start++;
    let end = start;
    while (end < n && tops[end] < viewTop + s.clientHeight + OVERSCAN_PX) end++;
    // [start, end) is rendered.
    const wanted = [];
    for (let i = start; i < end; i++) {
      const row = this.rows[i];
      const sig = this.sigOf(row);
      let r = this.live.get(row.key);
      if (!r || r.sig !== sig) {
        const el = this.renderRow(row);
        el.dataset.key = row.key;
        if (r) {
          const focusedIdx = r.el.contains(document.activeElement)
            ? [...r.el.querySelectorAll('button, a')].indexOf(document.activeElement) : -2;
          const hadFocus = document.activeElement === r.el;
          r.el.replaceWith(el);
          if (hadFocus) el.focus({ preventScroll: true });
          else if (focusedIdx >= 0) {
            const again = el.querySelectorAll('button, a')[focusedIdx];
            if (again) again.focus({ preventScroll: true });
          }
        }
        r = { el, sig };
        this.live.set(row.key, r);
      }
      wanted.push(row.key);
    }
    const keep = new Set(wanted);
    for (const [key, r] of this.live) {
      if (!keep.has(key)) {
        r.el.remove();
        this.live.delete(key);
      }
    }
    let prevEl = null;
    for (const key of wanted) {
      const el = this.live.get(key).el;
      const want = prevEl ? prevEl.nextSibling : this.list.firstChild;
      if (want !== el) this.list.insertBefore(el, want);
      prevEl = el;
    }
    // Measure what is rendered, then size the spacers from the measured heights.
    for (const key of wanted) this.heights.set(key, this.live.get(key).el.offsetHeight);
    let above = 0;
    for (let i = 0; i < start; i++) above += this.heightOf(this.rows[i]);
    let below = 0;
    for (let i = end; i < n; i++) below += this.heightOf(this.rows[i]);
    this.list.style.paddingTop = `${above}px`;
    this.list.style.paddingBottom = `${below}px`;
    if (stick) {
      s.scrollTop = s.scrollHeight;
      this.stick = false;
    } else if (anchor && this.live.has(anchor.key)) {
      s.scrollTop = this.live.get(anchor.key).el.offsetTop - anchor.off;
    }
  }

  // Brings row `key` into view (centred) and answers its element.
  reveal(key) {
    if (!this.index.has(key)) return null;
    this.stick = false;
    this.render({ key, off: Math.max(0, this.scroller.clientHeight / 2 - 40) });
    const r = this.live.get(key);
    return r ? r.el : null;
  }

  toBottom() {
    this.stick = true;
    this.render();
  }
}
