// Group settings, opened from a group's header (docs/protocol.md, "Groups"): name, description
// and the public flag; members with roles, adding, removing, muting and banning; invite links
// with a copy button; the bans with unban; leaving, and deleting the group. What one sees
// follows one's role: a member reads, an admin moderates, the owner also changes roles and
// deletes. The server decides; a refusal shows here with its message.

import { app, explain, toast } from './app.js';
import { $, h, plural } from './dom.js';
import { renderChat, renderChatHead } from './chat-view.js';
import { personRow } from './people-view.js';

// Mute durations offered for a member, in seconds (0: until lifted).
const MUTE_CHOICES = [['1 hour', 3600], ['1 day', 86400], ['1 week', 7 * 86400], ['Until lifted', 0]];

// What the dialog shows, as last read from the server; `gen` drops the answers of a load that
// a newer one overtook (events reload it while it may still be loading).
let state = null;
let gen = 0;

function groupIdOf(c) { return c.group_id || c.id.slice('group:'.length); }

function showError(e) {
  const el = $('gd-error');
  el.textContent = e ? explain(e) : '';
  if (e) el.scrollIntoView({ block: 'nearest' });
}

function when(ms) {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function inviteLink(code) { return `${location.origin}/#/join/${code}`; }

// Runs one change, shows the server's reason if it refuses, and reloads the dialog either way:
// a refusal often means the panel was stale (a link revoked or a member gone elsewhere).
async function act(fn, done) {
  showError(null);
  try {
    await fn();
    if (done) done();
  } catch (e) {
    showError(e);
  }
  await loadGroupDialog();
}

export async function loadGroupDialog() {
  const store = app.store;
  const c = app.ui.active;
  if (!store || !c || c.kind !== 'group') return;
  const gid = groupIdOf(c);
  const mine = ++gen;
  try {
    const g = (await app.api.group(gid)).group;
    const members = [];
    let after = null;
    for (let i = 0; i < 50; i++) {
      const r = await app.api.members(gid, after);
      members.push(...r.members);
      if (!r.next) break;
      after = r.next;
    }
    const me = members.find((m) => m.user_id === store.me.user_id);
    const role = me ? me.role : null;
    const manager = role === 'owner' || role === 'admin';
    // Moderation lists are for the owner and admins only.
    const [mutes, bans, invites] = manager ? await Promise.all([
      app.api.groupMutes(gid), app.api.groupBans(gid), app.api.groupInvites(gid)])
      : [{ mutes: [] }, { bans: [] }, { invites: [] }];
    const unknown = [...members.map((m) => m.user_id), ...bans.bans.map((b) => b.user_id)]
      .filter((uid) => !store.users.has(uid) && uid !== store.me.user_id);
    await Promise.all([...new Set(unknown)].slice(0, 100)
      .map((uid) => app.api.user(uid).then((r) => store.rememberUser(r.user)).catch(() => {})));
    if (mine !== gen || app.ui.active !== c) return;
    c.myRole = role;
    c.title = g.name;
    c.description = g.description || '';
    c.public = !!g.public;
    const keep = state && state.gid === gid ? state : null;
    state = {
      c, gid, group: g, members, role, manager,
      mutes: new Map(mutes.mutes.map((m) => [m.user_id, m.until])),
      bans: bans.bans, invites: invites.invites,
      muting: keep ? keep.muting : null, copied: keep ? keep.copied : null,
    };
    render();
  } catch (e) {
    if (mine === gen) showError(e);
  }
}

function render() {
  const { c, group: g, manager, role } = state;
  $('gd-title').textContent = g.name;
  $('gd-info').textContent = `${plural(g.member_count, 'member')} · ${g.public ? 'public' : 'private'}`;
  renderAbout(g, manager);
  renderMembers();
  const store = app.store;
  const inGroup = new Set(state.members.map((m) => m.user_id));
  const candidates = [...store.friends.values()].filter((u) => !inGroup.has(u.user_id));
  $('gd-add').hidden = !manager;
  $('gd-add-select').replaceChildren(...candidates.map((u) => h('option', { value: u.user_id, text: u.display_name || u.username })));
  $('gd-add').querySelector('button').disabled = candidates.length === 0;
  $('gd-invites-section').hidden = !manager;
  $('gd-bans-section').hidden = !manager;
  if (manager) {
    renderInvites();
    renderBans();
  }
  // The owner cannot leave (the server refuses until ownership passes): say so instead.
  $('gd-leave').hidden = role === 'owner';
  $('gd-owner-note').hidden = role !== 'owner';
  $('gd-delete').hidden = role !== 'owner';
  if (app.ui.active === c) renderChatHead();
}

function renderAbout(g, manager) {
  $('gd-description').textContent = manager ? '' : (g.description || 'No description.');
  const form = $('gd-about');
  form.hidden = !manager;
  if (!manager) return;
  // Not while someone is typing in it: an event must not wipe an edit.
  if (form.contains(document.activeElement)) return;
  form.elements.name.value = g.name;
  form.elements.description.value = g.description || '';
  form.elements.public.checked = !!g.public;
}

function muteText(until) {
  if (until === null || until === undefined) return 'muted until lifted';
  return `muted until ${when(Number(until))}`;
}

function renderMembers() {
  const store = app.store;
  const { gid, role, manager } = state;
  $('gd-members').replaceChildren(...state.members.map((m) => {
    const me = m.user_id === store.me.user_id;
    const plain = store.name(m.user_id);
    const name = me ? `${plain} (you)` : plain;
    const u = { ...(store.users.get(m.user_id) || { user_id: m.user_id }), display_name: name };
    const muted = state.mutes.has(m.user_id);
    const buttons = [];
    if (role !== 'owner' || me) {
      buttons.push(h('span', { class: 'role', text: m.role }));
    } else {
      const sel = h('select', { 'aria-label': `Role of ${plain}` },
        ['member', 'admin', 'owner'].map((r) => h('option', { value: r, selected: r === m.role, text: r })));
      sel.addEventListener('change', () => act(() => app.api.setRole(gid, m.user_id, sel.value)));
      buttons.push(sel);
    }
    if (muted) buttons.push(h('span', { class: 'muted-tag', text: muteText(state.mutes.get(m.user_id)) }));
    const target = manager && m.role !== 'owner' && !me;
    if (target) {
      buttons.push(muted
        ? h('button', { type: 'button', class: 'ghost', text: 'Unmute', 'aria-label': `Unmute ${plain}`,
          onclick: () => act(() => app.api.unmuteMember(gid, m.user_id), () => toast(`${plain} may write again.`)) })
        : h('button', { type: 'button', class: 'ghost', text: 'Mute', 'aria-label': `Mute ${plain}`, 'aria-expanded': String(state.muting === m.user_id),
          onclick: () => { state.muting = state.muting === m.user_id ? null : m.user_id; renderMembers(); } }));
      buttons.push(h('button', {
        type: 'button', class: 'ghost', text: 'Remove', 'aria-label': `Remove ${plain}`,
        onclick: () => act(() => app.api.removeMember(gid, m.user_id)),
      }));
      buttons.push(h('button', {
        type: 'button', class: 'ghost danger', text: 'Ban', 'aria-label': `Ban ${plain}`,
        onclick: () => {
          if (!window.confirm(`Ban ${plain}? They leave the group and cannot join or be added again until you unban them.`)) return;
          act(() => app.api.ban(gid, m.user_id), () => toast(`${plain} is banned.`));
        },
      }));
    }
    // One's own presence is this connection's.
    const online = me ? !!(app.conn && app.conn.isOpen) : store.online(m.user_id);
    const row = personRow(u, online, ...buttons);
    if (target && !muted && state.muting === m.user_id) {
      row.append(h('div', { class: 'mute-choice', role: 'group', 'aria-label': `Mute ${plain} for` },
        h('span', { class: 'sub', text: 'Mute for' }),
        MUTE_CHOICES.map(([label, secs]) => h('button', {
          type: 'button', text: label, 'aria-label': `Mute ${plain} ${label.toLowerCase().startsWith('until') ? label.toLowerCase() : `for ${label}`}`,
          onclick: () => act(() => app.api.muteMember(gid, m.user_id, secs), () => {
            state.muting = null;
            toast(`${plain} is muted.`);
          }),
        })),
        h('button', { type: 'button', class: 'ghost', text: 'Cancel', onclick: () => { state.muting = null; renderMembers(); } })));
    }
    return row;
  }));
}

function renderInvites() {
  const { gid } = state;
  $('gd-invites').replaceChildren(...(state.invites.length ? state.invites.map((inv) => {
    const link = inviteLink(inv.code);
    const copied = h('span', { class: 'copied', role: 'status', text: state.copied === inv.code ? 'Copied' : '' });
    const meta = `${plural(inv.uses_left, 'use')} left · expires ${when(inv.expires_at)}`;
    return h('li', { class: 'invite', dataset: { code: inv.code } },
      h('input', { class: 'invite-link', readonly: true, value: link, 'aria-label': `Invite link, ${meta}`,
        onfocus: (ev) => ev.target.select() }),
      h('button', {
        type: 'button', text: 'Copy link', 'aria-label': `Copy the invite link that expires ${when(inv.expires_at)}`,
        onclick: () => copyLink(inv.code, link, copied),
      }),
      copied,
      h('button', {
        type: 'button', class: 'ghost', text: 'Revoke', 'aria-label': `Revoke the invite link that expires ${when(inv.expires_at)}`,
        onclick: () => act(() => app.api.revokeGroupInvite(gid, inv.code), () => toast('The link is revoked.')),
      }),
      h('span', { class: 'sub invite-meta', text: meta }));
  }) : [h('li', { class: 'sub', text: 'No links yet.' })]));
}

async function copyLink(code, link, status) {
  try {
    await navigator.clipboard.writeText(link);
    state.copied = code;
    status.textContent = 'Copied';
  } catch (e) {
    // No clipboard (an insecure origin, or permission refused): select the link instead.
    const input = status.parentElement.querySelector('input');
    input.focus();
    input.select();
    status.textContent = 'Press Ctrl+C to copy';
  }
}

function renderBans() {
  const store = app.store;
  const { gid } = state;
  $('gd-bans').replaceChildren(...(state.bans.length ? state.bans.map((b) => {
    const name = store.name(b.user_id);
    const u = { ...(store.users.get(b.user_id) || { user_id: b.user_id }), display_name: name };
    return personRow(u, false,
      h('span', { class: 'sub', text: `by ${store.name(b.banned_by)}, ${when(b.banned_at)}` }),
      h('button', { type: 'button', text: 'Unban', 'aria-label': `Unban ${name}`,
        onclick: () => act(() => app.api.unban(gid, b.user_id), () => toast(`${name} is unbanned.`)) }));
  }) : [h('li', { class: 'sub', text: 'Nobody is banned.' })]));
}

async function saveAbout(ev) {
  ev.preventDefault();
  const form = ev.target;
  const g = state && state.group;
  if (!g) return;
  const fields = {};
  const name = form.elements.name.value.trim();
  const description = form.elements.description.value;
  if (name !== g.name) fields.name = name;
  if (description !== (g.description || '')) fields.description = description;
  if (form.elements.public.checked !== !!g.public) fields.public = form.elements.public.checked;
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  // The form is left first, so the reload fills it with what the server kept.
  button.blur();
  await act(() => app.api.updateGroup(state.gid, fields), () => toast('The group is updated.'));
  button.disabled = false;
}

async function createInvite(ev) {
  ev.preventDefault();
  const form = ev.target;
  const uses = Number(form.elements.uses.value);
  const ttl = Number(form.elements.expires_in_s.value);
  await act(() => app.api.createGroupInvite(state.gid, uses, ttl),
    () => toast('A new invite link is ready: copy it below.'));
}

async function deleteGroup() {
  const c = app.ui.active;
  if (!state || !c || state.c !== c) return;
  const name = state.group.name;
  if (!window.confirm(`Delete “${name}” for everyone? Its members and all its messages go for good. This cannot be undone.`)) return;
  showError(null);
  try {
    await app.api.deleteGroup(state.gid);
  } catch (e) {
    showError(e);
    return;
  }
  $('group-dialog').close();
  app.store.dropGroup(c.id, false);
  toast(`“${name}” is deleted.`);
}

export function setupGroupSettings() {
  $('manage').addEventListener('click', () => {
    state = null;
    showError(null);
    $('gd-members').replaceChildren();
    $('group-dialog').showModal();
    loadGroupDialog();
  });
  $('gd-about').addEventListener('submit', saveAbout);
  $('gd-invite-form').addEventListener('submit', createInvite);
  $('gd-delete').addEventListener('click', deleteGroup);
  $('gd-add').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const uid = $('gd-add-select').value;
    if (!uid || !state) return;
    act(() => app.api.addMembers(state.gid, [uid]));
  });
  $('gd-leave').addEventListener('click', async () => {
    const c = app.ui.active;
    if (!c || !window.confirm('Leave this group?')) return;
    showError(null);
    try {
      await app.api.removeMember(groupIdOf(c), app.store.me.user_id);
      $('group-dialog').close();
      app.ui.active = null;
      await app.store.loadConversations();
      renderChat();
    } catch (e) {
      showError(e);
    }
  });
}
