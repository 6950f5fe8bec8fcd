// A message's text as DOM: links, @mentions and search words marked, built from text nodes only
// (never HTML), so nothing in a message can run script or inject markup.

import { h } from './dom.js';

// http(s) URLs; trailing punctuation that usually ends a sentence is not part of the link.
const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?'")\]}>]+$/;

// A safe link for `raw`, or null. Only http and https, never credentials in the URL (they make
// "https://bank.example@evil.example" look like the bank). The text shown is the parsed URL,
// whose host the browser spells in punycode, so a look-alike (Cyrillic "а" in "exаmple") shows
// as "xn--…" rather than passing for the real name.
export function safeUrl(raw) {
  let u;
  try {
    u = new URL(raw);
  } catch (e) {
    return null;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  if (u.username || u.password) return null;
  return u;
}

function linkTo(u) {
  return h('a', { href: u.href, target: '_blank', rel: 'noopener noreferrer', class: 'link', text: u.href });
}

// Splits text into links and the rest; `plain(text)` renders the rest.
export function richText(text, plain) {
  const frag = document.createDocumentFragment();
  let last = 0;
  URL_RE.lastIndex = 0;
  let mt;
  while ((mt = URL_RE.exec(text))) {
    let raw = mt[0];
    const trail = TRAILING.exec(raw);
    if (trail) raw = raw.slice(0, raw.length - trail[0].length);
    const u = safeUrl(raw);
    if (!u) continue;
    if (mt.index > last) frag.append(plain(text.slice(last, mt.index)));
    frag.append(linkTo(u));
    last = mt.index + raw.length;
    URL_RE.lastIndex = last;
  }
  if (last < text.length) frag.append(plain(text.slice(last)));
  return frag;
}

// @username words that name one of `names` (lower-case usernames) are highlighted; `mine` is
// the reader's own username.
export function mentionText(names, mine) {
  return (text) => {
    const frag = document.createDocumentFragment();
    const re = /@([a-z0-9_.-]+)/gi;
    let last = 0;
    let mt;
    while ((mt = re.exec(text))) {
      const name = mt[1].toLowerCase();
      if (!names.has(name)) continue;
      frag.append(text.slice(last, mt.index));
      frag.append(h('span', { class: `mention${mine && name === mine ? ' me' : ''}`, text: mt[0] }));
      last = mt.index + mt[0].length;
    }
    frag.append(text.slice(last));
    return frag;
  };
}

export function fold(s) { return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase(); }

// Marks every occurrence of a query word (ignoring case and accents) with <mark>.
export function highlight(text, words) {
  const frag = document.createDocumentFragment();
  const folded = [...text].map((ch) => fold(ch));
  const flat = folded.join('');
  const starts = [];
  let pos = 0;
  for (const f of folded) { starts.push(pos); pos += f.length; }
  const marks = new Array(folded.length).fill(false);
  for (const w of words.map(fold)) {
    if (!w) continue;
    let i = flat.indexOf(w);
    while (i !== -1) {
      for (let k = 0; k < folded.length; k++) {
        if (starts[k] + folded[k].length > i && starts[k] < i + w.length) marks[k] = true;
      }
      i = flat.indexOf(w, i + w.length);
    }
  }
  const chars = [...text];
  let run = '';
  let runMark = false;
  const flush = () => {
    if (!run) return;
    frag.append(runMark ? h('mark', { text: run }) : run);
    run = '';
  };
  chars.forEach((ch, k) => {
    if (marks[k] !== runMark) { flush(); runMark = marks[k]; }
    run += ch;
  });
  flush();
  return frag;
}
