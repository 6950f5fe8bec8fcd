// The admin page's Invites section: registration invites (docs/protocol.md, "Registration
// modes and invites"): create one with a number of uses and an expiry, list them all (used-up
// and expired ones too, newest first), copy a code or its link, revoke one.

import { toast } from '../app.js';
import { h } from '../dom.js';
import { adminApi } from './admin-api.js';
import { busy, copyField, errorLine, section, when } from './admin-ui.js';

const EXPIRY = [['Never', 0], ['1 hour', 3600], ['1 day', 86400], ['7 days', 604800], ['30 days', 2592000]];

// The client's registration link: the log-in page opens on Register with the code filled in.
export function inviteLink(code) { return `${location.origin}/#/register/${encodeURIComponent(code)}`; }

export function invitesSection() {
  const s = section('admin-invites', 'Invites', { refresh: () => load() });
  const form = h('form', { class: 'admin-inline', 'aria-label': 'New invite' },
    h('label', {}, 'Uses ', h('input', { name: 'uses', 'aria-label': 'Invite uses', type: 'number', min: 1, step: 1, value: 1, required: true })),
    h('label', {}, 'Expires ', h('select', { name: 'expires', 'aria-label': 'Invite expires' },
      ...EXPIRY.map(([text, secs]) => h('option', { value: secs, text, selected: secs === 604800 })))),
    h('button', { type: 'submit', class: 'primary', text: 'Create invite' }));
  const formError = errorLine();
  const note = h('p', { class: 'sub', text: 'Invites matter while auth.registration is “invite”: registering then needs a code. Each registration takes one use.' });
  const list = h('ul', { class: 'admin-invites', 'aria-label': 'Invites' });
  s.body.append(note, form, formError, list);

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const d = Object.fromEntries(new FormData(form));
    const body = { uses: Number(d.uses) };
    if (Number(d.expires) > 0) body.expires_in_s = Number(d.expires);
    busy(form.querySelector('button[type=submit]'), formError, async () => {
      const r = await adminApi.createInvite(body);
      toast('Invite created.');
      await load(r.invite.code);
    });
  });

  function state(i, now) {
    if (i.uses_left <= 0) return 'used up';
    if (i.expires_at && i.expires_at <= now) return 'expired';
    return `${i.uses_left} ${i.uses_left === 1 ? 'use' : 'uses'} left, ${i.expires_at ? `expires ${when(i.expires_at)}` : 'never expires'}`;
  }

  async function load(fresh = null) {
    s.line.show(null);
    let invites;
    try {
      invites = (await adminApi.invites()).invites || [];
    } catch (e) {
      s.line.show(e);
      return;
    }
    const now = Date.now();
    list.replaceChildren(...(invites.length ? invites.map((i) => {
      const line = errorLine();
      return h('li', { class: `admin-invite${i.code === fresh ? ' fresh' : ''}`, dataset: { code: i.code } },
        h('div', {}, h('code', { text: i.code }), ' ', h('span', { class: 'sub', text: state(i, now) })),
        h('div', { class: 'admin-inline' },
          copyField('Invite code', i.code),
          copyField('Invite link', inviteLink(i.code)),
          h('button', {
            type: 'button', class: 'danger', text: 'Revoke', 'aria-label': `Revoke invite ${i.code}`,
            onclick: (ev) => busy(ev.currentTarget, line, async () => {
              await adminApi.revokeInvite(i.code);
              toast('Invite revoked.');
              await load();
            }),
          })),
        line);
    }) : [h('li', { class: 'sub', text: 'No invites.' })]));
  }

  return { el: s.el, load };
}
