// The admin page's Live settings section: every live key of GET /admin/settings as a form,
// one group per section of the configuration, showing the running values. Apply sends only
// the fields that changed, as flat keys, in one PATCH /admin/settings (all applied or none);
// the answer's `applied` keys are shown, and a 400 (whose message starts with the key it is
// about) is shown next to that field.

import { h } from '../dom.js';
import { adminApi } from './admin-api.js';
import { busy, section } from './admin-ui.js';

// A control for one value: a checkbox for booleans, a number field for numbers, a text field
// for strings and for lists (comma-separated). `read()` answers the value to send.
function control(key, value) {
  const id = `admin-set-${key.replace(/[^a-z0-9]+/gi, '-')}`;
  let input;
  let read;
  if (typeof value === 'boolean') {
    input = h('input', { id, type: 'checkbox', checked: value });
    read = () => input.checked;
  } else if (typeof value === 'number') {
    input = h('input', { id, type: 'number', step: 'any', value: String(value), required: true });
    read = () => (input.value.trim() === '' ? input.value : Number(input.value));
  } else if (Array.isArray(value)) {
    input = h('input', { id, value: value.join(', '), autocomplete: 'off', spellcheck: 'false' });
    read = () => input.value.split(',').map((x) => x.trim()).filter(Boolean);
  } else {
    input = h('input', { id, value: String(value ?? ''), autocomplete: 'off', spellcheck: 'false' });
    read = () => input.value;
  }
  const error = h('span', { class: 'field-error error', id: `${id}-error` });
  input.setAttribute('aria-describedby', error.id);
  const field = h('div', { class: `admin-field${typeof value === 'boolean' ? ' check' : ''}`, dataset: { key } },
    h('label', { for: id, class: 'admin-key', text: key }), input, error);
  return { key, field, input, error, initial: JSON.stringify(value), read };
}

// [["server.tls.cert_file", ""], ...]: nested objects become dotted keys, as the server names them.
function flatten(obj, prefix) {
  return Object.entries(obj).flatMap(([k, v]) => (v && typeof v === 'object' && !Array.isArray(v)
    ? flatten(v, `${prefix}${k}.`) : [[`${prefix}${k}`, v]]));
}

export function settingsSection(shared) {
  const s = section('admin-settings', 'Live settings', { refresh: () => load() });
  const form = h('form', { class: 'stack admin-settings-form', 'aria-label': 'Live settings', novalidate: true });
  const result = h('p', { class: 'sub admin-applied', role: 'status' });
  s.body.append(
    h('p', { class: 'sub', text: 'These keys take effect at once, without a restart (docs/configuration.md describes each). A change lasts until the next reload or restart: put it in the configuration file to keep it.' }),
    form, result);
  let controls = [];

  function clearFieldErrors() {
    for (const c of controls) {
      c.error.textContent = '';
      c.input.removeAttribute('aria-invalid');
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearFieldErrors();
    result.textContent = '';
    const changes = {};
    for (const c of controls) {
      const v = c.read();
      if (JSON.stringify(v) !== c.initial) changes[c.key] = v;
    }
    if (!Object.keys(changes).length) {
      result.textContent = 'Nothing to apply: no field was changed.';
      return;
    }
    const button = form.querySelector('button[type=submit]');
    const line = { show: (e) => showRefusal(e) };
    busy(button, line, async () => {
      const r = await adminApi.changeSettings(changes);
      await load();
      result.textContent = r.applied && r.applied.length ? `Applied: ${r.applied.join(', ')}.` : 'Applied: nothing changed.';
      shared.settingsChanged('settings');
    });
  });

  // A 400 names its key first ("limits.send_rate: 0 is outside 0.001..1e9"): shown by the field.
  function showRefusal(e) {
    if (!e) {
      s.line.show(null);
      return;
    }
    const m = e.status === 400 && /^([a-z0-9_.]+): (.*)$/s.exec(e.message || '');
    const c = m && controls.find((x) => x.key === m[1]);
    if (c) {
      c.error.textContent = m[2];
      c.input.setAttribute('aria-invalid', 'true');
      c.input.focus();
      result.textContent = `Not applied: ${m[1]} is refused; nothing changed.`;
      return;
    }
    result.textContent = '';
    s.line.show(e);
  }

  async function load() {
    s.line.show(null);
    let live;
    try {
      live = (await adminApi.settings()).live || {};
    } catch (e) {
      s.line.show(e);
      return;
    }
    controls = [];
    const groups = Object.entries(live).map(([sectionName, keys]) => {
      const own = flatten(keys, `${sectionName}.`).map(([k, v]) => control(k, v));
      controls.push(...own);
      return h('fieldset', { class: 'admin-group', dataset: { section: sectionName } },
        h('legend', { text: sectionName }), ...own.map((c) => c.field));
    });
    form.replaceChildren(...groups, h('button', { type: 'submit', class: 'primary', text: 'Apply changes' }));
  }

  return { el: s.el, load };
}
