// The emoji picker: every emoji of the list shipped with the client (emoji-data.js, no network),
// by group or by searching names. One picker serves the composer and reactions. Only the shown
// group (or the first 120 matches) is in the DOM, so an open picker stays small.

import { $, h, icon } from './dom.js';
import { EMOJI_GROUPS } from './emoji-data.js';

const GROUPS = EMOJI_GROUPS.map((g) => ({
  name: g.name,
  items: g.items.split('\n').map((line) => {
    const [emoji, name] = line.split('\t');
    return { emoji, name };
  }),
}));
const MAX_MATCHES = 120;

let state = null; // { onPick, returnFocus, group }

function grid(items) {
  return items.map((e) => h('button', {
    type: 'button', class: 'emoji', title: e.name, 'aria-label': e.name,
    onclick: () => pick(e.emoji),
  }, e.emoji));
}

function showGroup(i) {
  state.group = i;
  $('emoji-search').value = '';
  for (const [j, b] of [...$('emoji-tabs').children].entries()) b.setAttribute('aria-pressed', String(j === i));
  $('emoji-grid').replaceChildren(...grid(GROUPS[i].items));
  $('emoji-grid').setAttribute('aria-label', GROUPS[i].name);
}

function search(q) {
  const words = q.trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) {
    showGroup(state.group || 0);
    return;
  }
  const found = [];
  for (const g of GROUPS) {
    for (const e of g.items) {
      if (words.every((w) => e.name.includes(w))) found.push(e);
      if (found.length >= MAX_MATCHES) break;
    }
    if (found.length >= MAX_MATCHES) break;
  }
  $('emoji-grid').setAttribute('aria-label', `Emoji matching ${q}`);
  $('emoji-grid').replaceChildren(...(found.length ? grid(found) : [h('p', { class: 'sub', text: 'No emoji found.' })]));
}

function pick(emoji) {
  const s = state;
  closePicker();
  if (s) s.onPick(emoji);
}

export function closePicker() {
  const box = $('emoji-picker');
  if (box.hidden) return;
  box.hidden = true;
  $('emoji-grid').replaceChildren();
  const back = state && state.returnFocus;
  state = null;
  if (back && back.isConnected) back.focus();
}

// Opens the picker next to `anchor`; `onPick(emoji)` gets the choice.
export function openPicker(anchor, onPick, label = 'Pick an emoji') {
  const box = $('emoji-picker');
  state = { onPick, returnFocus: anchor, group: 0 };
  box.setAttribute('aria-label', label);
  box.hidden = false;
  const r = anchor.getBoundingClientRect();
  const width = Math.min(340, window.innerWidth - 16);
  box.style.width = `${width}px`;
  box.style.left = `${Math.max(8, Math.min(window.innerWidth - width - 8, r.right - width))}px`;
  const below = r.bottom + 8;
  const height = Math.min(360, window.innerHeight - 16);
  box.style.top = `${below + height < window.innerHeight ? below : Math.max(8, r.top - height - 8)}px`;
  showGroup(0);
  $('emoji-search').focus();
}

export function setupPicker() {
  $('emoji-tabs').replaceChildren(...GROUPS.map((g, i) => h('button', {
    type: 'button', class: 'ghost emoji-tab', title: g.name, 'aria-label': g.name, 'aria-pressed': 'false',
    onclick: () => showGroup(i),
  }, g.items[0].emoji)));
  $('emoji-search').addEventListener('input', (ev) => search(ev.target.value));
  $('emoji-picker').addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      ev.preventDefault();
      ev.stopPropagation();
      closePicker();
    }
  });
  document.addEventListener('pointerdown', (ev) => {
    if (!$('emoji-picker').hidden && !$('emoji-picker').contains(ev.target) &&
        !(state && state.returnFocus && state.returnFocus.contains(ev.target))) closePicker();
  });
}
