// Small DOM helpers shared by the views: element building (text nodes only, never HTML
// strings), SVG icons, times and dates, and avatars.

const SVG = 'http://www.w3.org/2000/svg';

export const $ = (id) => document.getElementById(id);

export function h(tag, attrs = {}, ...children) {
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

// Stroke icons on a 24-unit grid (after Feather, MIT). Strings are path data; [cx, cy, r] is a
// circle. Every icon is decorative (aria-hidden): the control around it carries the label.
const ICONS = {
  globe: [[12, 12, 10], 'M2 12h20', 'M12 2a15.3 15.3 0 0 1 4 10 15.3 15.3 0 0 1-4 10 15.3 15.3 0 0 1-4-10 15.3 15.3 0 0 1 4-10z'],
  hash: ['M4 9h16', 'M4 15h16', 'M10 3 8 21', 'M16 3l-2 18'],
  users: ['M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2', [9, 7, 4], 'M23 21v-2a4 4 0 0 0-3-3.87', 'M16 3.13a4 4 0 0 1 0 7.75'],
  back: ['M19 12H5', 'M12 19l-7-7 7-7'],
  close: ['M18 6 6 18', 'M6 6l12 12'],
  send: ['M22 2 11 13', 'M22 2l-7 20-4-9-9-4 20-7z'],
  smile: [[12, 12, 10], 'M8 14s1.5 2 4 2 4-2 4-2', 'M9 9h.01', 'M15 9h.01'],
  bell: ['M18 8A6 6 0 0 0 6 8c0 7-3 9-3 9h18s-3-2-3-9', 'M13.73 21a2 2 0 0 1-3.46 0'],
  bellOff: ['M13.73 21a2 2 0 0 1-3.46 0', 'M18.63 13A17.89 17.89 0 0 1 18 8', 'M6.26 6.26A5.86 5.86 0 0 0 6 8c0 7-3 9-3 9h14', 'M18 8a6 6 0 0 0-9.33-5', 'M1 1l22 22'],
  search: [[11, 11, 8], 'M21 21l-4.35-4.35'],
  reply: ['M9 14 4 9l5-5', 'M20 20v-7a4 4 0 0 0-4-4H4'],
  edit: ['M17 3a2.83 2.83 0 1 1 4 4L7.5 20.5 2 22l1.5-5.5L17 3z'],
  trash: ['M3 6h18', 'M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6', 'M10 11v6', 'M14 11v6', 'M9 6V4a1 1 0 0 1 1-1h4a1 1 0 0 1 1 1v2'],
  check: ['M20 6 9 17l-5-5'],
  checks: ['M17 6 6 17l-4-4', 'M22 9l-8 8-1.5-1.5'],
  clock: [[12, 12, 10], 'M12 6v6l4 2'],
  alert: [[12, 12, 10], 'M12 8v4', 'M12 16h.01'],
  down: ['M12 5v14', 'M19 12l-7 7-7-7'],
  settings: ['M4 21v-7', 'M4 10V3', 'M12 21v-9', 'M12 8V3', 'M20 21v-5', 'M20 12V3', 'M1 14h6', 'M9 8h6', 'M17 16h6'],
  logout: ['M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4', 'M16 17l5-5-5-5', 'M21 12H9'],
  offline: ['M1 1l22 22', 'M16.72 11.06A10.94 10.94 0 0 1 19 12.55', 'M5 12.55a10.94 10.94 0 0 1 5.17-2.39', 'M10.71 5.05A16 16 0 0 1 22.58 9', 'M1.42 9a15.91 15.91 0 0 1 4.7-2.88', 'M8.53 16.11a6 6 0 0 1 6.95 0', 'M12 20h.01'],
  plus: ['M12 5v14', 'M5 12h14'],
  at: [[12, 12, 4], 'M16 8v5a3 3 0 0 0 6 0v-1a10 10 0 1 0-3.92 7.94'],
};

export function icon(name, cls = '') {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `icon${cls ? ` ${cls}` : ''}`);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const part of ICONS[name] || []) {
    let el;
    if (Array.isArray(part)) {
      el = document.createElementNS(SVG, 'circle');
      el.setAttribute('cx', part[0]);
      el.setAttribute('cy', part[1]);
      el.setAttribute('r', part[2]);
    } else {
      el = document.createElementNS(SVG, 'path');
      el.setAttribute('d', part);
    }
    svg.append(el);
  }
  return svg;
}

// ---- times ---------------------------------------------------------------------------------
export function timeOf(ts) {
  if (!ts) return '';
  return new Date(ts).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

// For the conversation list: the time today, else the date.
export function shortWhen(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  if (d.toDateString() === new Date().toDateString()) return timeOf(ts);
  return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}

export function dayKey(ts) {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

// "Today", "Yesterday", then the weekday and date (with the year when not this year).
export function dayLabel(ts, now = new Date()) {
  const d = new Date(ts);
  const start = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((start(now) - start(d)) / 86400000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  const opts = { weekday: 'long', month: 'long', day: 'numeric' };
  if (d.getFullYear() !== now.getFullYear()) opts.year = 'numeric';
  return d.toLocaleDateString(undefined, opts);
}

// ---- avatars -------------------------------------------------------------------------------
// Colours with white text at 4.5:1 or better (WCAG AA), in light and dark mode alike.
const AVATAR_COLOURS = ['#b3261e', '#8e24aa', '#3949ab', '#00695c', '#2e7d32', '#ad1457',
  '#5d4037', '#1565c0', '#a23e00', '#4e5b31', '#6a1b9a', '#37474f'];

export function colourOf(uid) {
  const s = String(uid || '');
  let x = 0;
  for (let i = 0; i < s.length; i++) x = (x * 31 + s.charCodeAt(i)) >>> 0;
  return AVATAR_COLOURS[x % AVATAR_COLOURS.length];
}

export function initials(name) {
  const words = String(name || '?').trim().split(/[\s._-]+/).filter(Boolean);
  const first = (w) => [...w][0] || '';
  const text = words.length > 1 ? first(words[0]) + first(words[1]) : [...(words[0] || '?')].slice(0, 2).join('');
  return text.toUpperCase();
}

// Where profile pictures come from: set by the session (main.js) to a function of a user id
// answering a promise of an object URL, or null when the user has no picture.
let pictureOf = () => null;
export function setAvatarSource(fn) { pictureOf = fn || (() => null); }

// A round avatar: initials on the user's colour, replaced by the user's picture once it has
// loaded (the initials stay when it cannot be fetched).
export function avatar(uid, name, cls = '') {
  const el = h('span', { class: `avatar${cls ? ` ${cls}` : ''}`, 'aria-hidden': 'true', text: initials(name) });
  el.style.backgroundColor = colourOf(uid);
  const picture = pictureOf(uid);
  if (picture) {
    picture.then((url) => {
      el.replaceChildren(h('img', { src: url, alt: '', class: 'avatar-img' }));
      el.classList.add('has-picture');
    }).catch(() => {});
  }
  return el;
}

export function plural(n, one, many = `${one}s`) { return `${n} ${n === 1 ? one : many}`; }
