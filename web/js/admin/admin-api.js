// The admin routes the admin page calls (docs/protocol.md, "Admin"), kept apart from api.js so
// that the page's calls read as one list. Every call goes through the session's Api: the same
// bearer token, the same ApiError with the protocol's code, the same 401 handling.

import { app } from '../app.js';

const enc = encodeURIComponent;
const call = (method, path, body) => app.api.call(method, `/admin${path}`, body);

export const adminApi = {
  stats: () => call('GET', '/stats'),
  users: (after, limit = 100) => call('GET', `/users?limit=${limit}${after ? `&after=${enc(after)}` : ''}`),
  createUser: (username, password, display_name) => call('POST', '/users',
    display_name ? { username, password, display_name } : { username, password }),
  passwordReset: (uid) => call('POST', `/users/${enc(uid)}/password-reset`, {}),
  suspend: (uid) => call('POST', `/users/${enc(uid)}/suspend`, {}),
  unsuspend: (uid) => call('DELETE', `/users/${enc(uid)}/suspend`),
  disconnect: (uid) => call('POST', `/users/${enc(uid)}/disconnect`, {}),
  deleteUser: (uid) => call('DELETE', `/users/${enc(uid)}`),
  invites: () => call('GET', '/invites'),
  createInvite: (body) => call('POST', '/invites', body),
  revokeInvite: (code) => call('DELETE', `/invites/${enc(code)}`),
  worldMutes: () => call('GET', '/world/mutes'),
  muteInWorld: (user_id, duration_s) => call('POST', '/world/mutes', { user_id, duration_s }),
  liftWorldMute: (uid) => call('DELETE', `/world/mutes/${enc(uid)}`),
  settings: () => call('GET', '/settings'),
  // `changes` is flat: {"limits.send_rate": 5}.
  changeSettings: (changes) => call('PATCH', '/settings', changes),
};
