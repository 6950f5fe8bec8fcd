// The settings page: the account (account-view.js) and this browser's settings, desktop
// notifications (asked for only when turned on) and a sound.

import { renderAccount } from './account-view.js';
import { $ } from './dom.js';
import { enableNotifications, loadSettings, notificationsSupported, saveSettings } from './notify.js';

function render() {
  const s = loadSettings();
  const supported = notificationsSupported();
  $('set-notify').checked = !!s.notify && supported && Notification.permission === 'granted';
  $('set-notify').disabled = !supported;
  $('set-sound').checked = !!s.sound;
  let note = '';
  if (!supported) note = 'This browser has no notifications.';
  else if (Notification.permission === 'denied') note = 'Notifications are blocked for this site in the browser’s settings.';
  $('set-notify-note').textContent = note;
}

export function setupSettings() {
  $('settings').addEventListener('click', () => {
    render();
    renderAccount();
    $('settings-dialog').showModal();
  });
  $('set-notify').addEventListener('change', async (ev) => {
    await enableNotifications(ev.target.checked);
    render();
  });
  $('set-sound').addEventListener('change', (ev) => {
    const s = loadSettings();
    s.sound = ev.target.checked;
    saveSettings(s);
  });
}
