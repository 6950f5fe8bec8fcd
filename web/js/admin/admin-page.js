// The admin page (`/#/admin`): a full-size dialog of sections, each its own module: Stats,
// Users, Invites, World moderation and Live settings. Only admins get the link (GET /me
// answers "admin": true for the users named in auth.admins); anyone else opening the address
// is told it is not allowed. The server's 401/403 on every admin route remain the real guard:
// the page only hides what would be refused.

import { app } from '../app.js';
import { $, h, icon } from '../dom.js';
import { invitesSection } from './admin-invites.js';
import { describe } from './admin-ui.js';
import { settingsSection } from './admin-settings.js';
import { statsSection } from './admin-stats.js';
import { usersSection } from './admin-users.js';
import { worldSection } from './admin-world.js';

let dialog = null;
let denied = null;
let content = null;
let sections = [];

// What the sections share: the users loaded in Users (World offers them for a mute), and
// word that the live settings changed (World shows slow mode, Live settings every key).
function sharedState() {
  const shared = {
    users: new Map(),
    listeners: [],
    changed: () => { for (const f of shared.listeners) f(); },
    settingsChanged: (from) => {
      if (from !== 'settings') settings.load();
      else world.loadSlow().catch(() => {});
    },
  };
  const stats = statsSection();
  const users = usersSection(shared);
  const invites = invitesSection();
  const world = worldSection(shared);
  const settings = settingsSection(shared);
  return [stats, users, invites, world, settings];
}

function build() {
  denied = h('p', { class: 'error admin-denied', role: 'alert', hidden: true });
  content = h('div', { class: 'admin-content' });
  dialog = h('dialog', { id: 'admin-dialog', class: 'settings-page admin-page', 'aria-labelledby': 'admin-title' },
    h('form', { method: 'dialog', class: 'dialog-close' },
      h('button', { class: 'ghost icon-button', 'aria-label': 'Close' }, icon('close'))),
    h('h2', { id: 'admin-title', text: 'Admin' }),
    denied, content);
  // Closing the page leaves its address, so that the link (or Back) opens it again.
  dialog.addEventListener('close', () => {
    if (isAdminRoute()) history.replaceState(null, '', location.pathname + location.search);
  });
  document.body.append(dialog);
}

export function isAdminRoute() { return /^#\/admin\/?$/.test(location.hash); }

// Shows or hides the sidebar's Admin link; called once the session knows who it is.
export function showAdminLink(isAdmin) { $('admin-link').hidden = !isAdmin; }

// Opens the page for the signed-in user: asks the server whether they are an admin now (the
// list reloads live), then loads every section.
export async function openAdmin() {
  if (!dialog) build();
  if (!dialog.open) dialog.showModal();
  denied.hidden = true;
  let admin = false;
  let why = 'Not allowed: this page is for admins only (the users the server names in auth.admins).';
  try {
    admin = !!(await app.api.me()).admin;
    showAdminLink(admin);
  } catch (e) {
    why = describe(e);
  }
  if (!admin) {
    content.replaceChildren();
    sections = [];
    denied.textContent = why;
    denied.hidden = false;
    return;
  }
  if (!sections.length) {
    sections = sharedState();
    content.replaceChildren(...sections.map((s) => s.el));
  }
  await Promise.all(sections.map((s) => s.load()));
}

// At the end of a session: the next user of this tab starts from nothing.
export function resetAdmin() {
  if (!dialog) return;
  if (dialog.open) dialog.close();
  content.replaceChildren();
  sections = [];
  showAdminLink(false);
}
