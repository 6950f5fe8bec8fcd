// The admin page's World section (docs/protocol.md, "Moderating world"): the users muted in
// `world` with Lift, a form that mutes one (picked from the loaded users or given by id) for a
// while or until lifted, and slow mode (`policy.world_slow_mode_s`, a live setting).

import { app, toast } from '../app.js';
import { h } from '../dom.js';
import { adminApi } from './admin-api.js';
import { busy, duration, errorLine, section, when } from './admin-ui.js';

const DURATIONS = [['10 minutes', 600], ['1 hour', 3600], ['1 day', 86400], ['7 days', 604800], ['Until lifted', 0]];
const SLOW_KEY = 'policy.world_slow_mode_s';

export function worldSection(shared) {
  const s = section('admin-world', 'World moderation', { refresh: () => load() });

  const mutes = h('ul', { class: 'people admin-mutes', 'aria-label': 'Muted in world' });
  const pick = h('select', { name: 'pick', 'aria-label': 'User to mute' });
  const byId = h('input', { name: 'user_id', inputmode: 'numeric', pattern: '[0-9]+', placeholder: 'or a user id', 'aria-label': 'User id to mute', autocomplete: 'off' });
  const form = h('form', { class: 'admin-inline', 'aria-label': 'Mute in world' },
    h('label', {}, 'User ', pick), byId,
    h('label', {}, 'For ', h('select', { name: 'duration', 'aria-label': 'Mute for' }, ...DURATIONS.map(([text, secs]) => h('option', { value: secs, text, selected: secs === 3600 })))),
    h('button', { type: 'submit', class: 'danger', text: 'Mute in world' }));
  const formError = errorLine();

  const slowInput = h('input', { name: 'seconds', type: 'number', min: 0, max: 86400, step: 1, required: true, 'aria-label': 'Slow mode seconds' });
  const slowState = h('p', { class: 'sub', role: 'status' });
  const slowForm = h('form', { class: 'admin-inline', 'aria-label': 'Slow mode' },
    h('label', { class: 'admin-row' }, 'One message per ', slowInput, ' s per user (0: off)'),
    h('button', { type: 'submit', text: 'Set slow mode' }));
  const slowError = errorLine();

  s.body.append(
    h('h4', { text: 'Muted in world' }),
    h('p', { class: 'sub', text: 'A muted user still reads world and uses every other conversation; their sends to world are refused.' }),
    mutes, form, formError,
    h('h4', { text: 'Slow mode' }),
    h('p', { class: 'sub', text: 'Paces every user but admins to one new message in world per this many seconds. Lasts until the next reload or restart unless the configuration file says the same.' }),
    slowForm, slowState, slowError);

  function nameOf(uid) {
    const u = shared.users.get(uid) || (app.store && app.store.users.get(uid));
    return u ? `${u.display_name || u.username}${u.username ? ` (@${u.username})` : ''}` : `user ${uid}`;
  }

  function renderPick() {
    const keep = pick.value;
    pick.replaceChildren(h('option', { value: '', text: '— by id —' }),
      ...[...shared.users.values()].filter((u) => !u.admin).map((u) => h('option', { value: u.user_id, text: `${u.display_name || u.username} (@${u.username})` })));
    pick.value = [...pick.options].some((o) => o.value === keep) ? keep : '';
  }
  shared.listeners.push(renderPick);

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const uid = byId.value.trim() || pick.value;
    const secs = Number(form.elements.duration.value);
    busy(form.querySelector('button[type=submit]'), formError, async () => {
      if (!uid) throw new Error('Pick a user or give a user id.');
      await adminApi.muteInWorld(uid, secs);
      toast(`${nameOf(uid)} is muted in world${secs ? ` for ${duration(secs)}` : ' until lifted'}.`);
      byId.value = '';
      await loadMutes();
    });
  });

  slowForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(slowForm.querySelector('button[type=submit]'), slowError, async () => {
      const r = await adminApi.changeSettings({ [SLOW_KEY]: Number(slowInput.value) });
      await loadSlow();
      slowState.textContent += r.applied && r.applied.length ? ` Applied: ${r.applied.join(', ')}.` : ' Nothing changed.';
      shared.settingsChanged();
    });
  });

  async function loadMutes() {
    const list = (await adminApi.worldMutes()).mutes || [];
    // Names of users not loaded in the Users section are looked up once.
    await Promise.all(list.filter((m) => !shared.users.has(m.user_id) && app.store && !app.store.users.get(m.user_id))
      .map((m) => app.api.user(m.user_id).then((r) => app.store && app.store.rememberUser(r.user)).catch(() => {})));
    mutes.replaceChildren(...(list.length ? list.map((m) => {
      const line = errorLine();
      const name = nameOf(m.user_id);
      return h('li', { class: 'person admin-mute', dataset: { uid: m.user_id } },
        h('span', { class: 'person-name' }, h('strong', { text: name }), ' ',
          h('span', { class: 'sub', text: m.until ? `until ${when(m.until)}` : 'until lifted' })),
        h('button', {
          type: 'button', text: 'Lift', 'aria-label': `Lift the mute of ${name}`,
          onclick: (ev) => busy(ev.currentTarget, line, async () => {
            await adminApi.liftWorldMute(m.user_id);
            toast(`${name} may write in world again.`);
            await loadMutes();
          }),
        }), line);
    }) : [h('li', { class: 'sub', text: 'Nobody is muted in world.' })]));
  }

  async function loadSlow() {
    const live = (await adminApi.settings()).live || {};
    const v = live.policy ? live.policy.world_slow_mode_s : 0;
    if (document.activeElement !== slowInput) slowInput.value = v;
    slowState.textContent = v > 0 ? `Slow mode is on: one message per ${v} s.` : 'Slow mode is off.';
  }

  async function load() {
    s.line.show(null);
    renderPick();
    try {
      await Promise.all([loadMutes(), loadSlow()]);
    } catch (e) {
      s.line.show(e);
    }
  }

  return { el: s.el, load, loadSlow };
}
