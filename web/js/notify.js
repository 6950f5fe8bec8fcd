// Staying informed: browser notifications (opt-in, for direct messages and mentions while the
// tab is hidden), a sound (optional), and the unread count on the favicon. Muted conversations
// notify nothing. Settings live in this browser's local storage.

const SETTINGS_KEY = 'monochat.settings';

export function loadSettings() {
  try {
    return { notify: false, sound: false, ...JSON.parse(localStorage.getItem(SETTINGS_KEY) || '{}') };
  } catch (e) {
    return { notify: false, sound: false };
  }
}

export function saveSettings(s) { localStorage.setItem(SETTINGS_KEY, JSON.stringify(s)); }

export function notificationsSupported() { return typeof window.Notification === 'function'; }

// Asks for permission when turning notifications on; answers whether they are on.
export async function enableNotifications(on) {
  const s = loadSettings();
  if (!on || !notificationsSupported()) {
    s.notify = false;
  } else {
    let perm = Notification.permission;
    if (perm === 'default') perm = await Notification.requestPermission();
    s.notify = perm === 'granted';
  }
  saveSettings(s);
  return s.notify;
}

let audio = null;
function beep() {
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.001, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.2, audio.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.25);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.3);
  } catch (e) { /* no audio here */ }
}

// A message pushed into `c`: notify when it is for the reader (a direct message, or one that
// mentions them), the conversation is not muted, and the tab is hidden.
export function notifyIncoming(store, c, m, { title, body, onOpen }) {
  if (!store.me || m.sender_id === store.me.user_id || store.isMuted(c)) return false;
  if (!(c.kind === 'direct' || store.isMention(m))) return false;
  if (document.visibilityState !== 'hidden') return false;
  const s = loadSettings();
  let shown = false;
  if (s.notify && notificationsSupported() && Notification.permission === 'granted') {
    const n = new Notification(title, { body, tag: c.id });
    n.onclick = () => { window.focus(); onOpen(); n.close(); };
    shown = true;
  }
  if (s.sound) beep();
  return shown;
}

// The favicon with the unread count in a red disc (an SVG data URL; the page's CSP allows data:
// images).
export function setFaviconBadge(count) {
  const link = document.querySelector('link[rel="icon"]');
  if (!link) return;
  if (!count) {
    link.href = '/favicon.svg';
    link.dataset.count = '0';
    return;
  }
  const text = count > 99 ? '99+' : String(count);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">`
    + `<rect x="4" y="8" width="44" height="36" rx="10" fill="#2f6fdf"/>`
    + `<path d="M16 44 l0 12 l12 -12z" fill="#2f6fdf"/>`
    + `<circle cx="44" cy="20" r="18" fill="#c5221f"/>`
    + `<text x="44" y="27" font-family="sans-serif" font-size="${text.length > 2 ? 14 : 20}" font-weight="bold" text-anchor="middle" fill="#fff">${text}</text></svg>`;
  link.href = `data:image/svg+xml,${encodeURIComponent(svg)}`;
  link.dataset.count = text;
}
