// REST calls of the monochat protocol (docs/protocol.md). Every identifier is a string; errors
// come back as ApiError with the protocol's code.

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export class Api {
  constructor(base = '/api/v1') {
    this.base = base;
    this.token = null;
    this.onUnauthenticated = null;
  }

  async call(method, path, body) {
    const headers = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (e) {
      throw new ApiError(0, 'unavailable', 'The server cannot be reached.');
    }
    if (res.status === 204) return null;
    let data = null;
    try {
      data = await res.json();
    } catch (e) {
      data = null;
    }
    if (!res.ok) {
      const err = (data && data.error) || {};
      const e = new ApiError(res.status, err.code || 'internal', err.message || res.statusText,
                             Number(res.headers.get('Retry-After')) || 0);
      if (res.status === 401 && this.token && this.onUnauthenticated) this.onUnauthenticated(e);
      throw e;
    }
    return data;
  }

  get(path) { return this.call('GET', path); }
  post(path, body = {}) { return this.call('POST', path, body); }
  patch(path, body) { return this.call('PATCH', path, body); }
  del(path) { return this.call('DELETE', path); }

  // `invite_code` is needed while the server's auth.registration is `invite` (ignored when open).
  register(username, password, display_name, invite_code) {
    const body = { username, password };
    if (display_name) body.display_name = display_name;
    if (invite_code) body.invite_code = invite_code;
    return this.post('/auth/register', body);
  }
  // POST /auth/reset with a token an admin issued: a new password, and a new session.
  resetPassword(reset_token, new_password) { return this.post('/auth/reset', { reset_token, new_password }); }
  login(username, password) { return this.post('/auth/login', { username, password }); }
  guest(display_name) {
    return this.call('POST', '/auth/guest', display_name ? { display_name } : undefined);
  }
  logout() { return this.call('POST', '/auth/logout'); }
  me() { return this.get('/me'); }
  // PATCH /me: `{display_name?, avatar_file_id?}` (avatar_file_id null removes the picture).
  updateProfile(fields) { return this.patch('/me', fields); }
  changePassword(current_password, new_password) {
    return this.post('/me/password', { current_password, new_password });
  }
  sessions() { return this.get('/me/sessions'); }
  revokeSession(id) { return this.del(`/me/sessions/${encodeURIComponent(id)}`); }
  logoutAll() { return this.post('/auth/logout-all'); }
  deleteAccount(password) { return this.call('DELETE', '/me', { password }); }
  blocks() { return this.get('/blocks'); }
  block(user_id) { return this.post('/blocks', { user_id }); }
  unblock(user_id) { return this.del(`/blocks/${encodeURIComponent(user_id)}`); }
  user(id) { return this.get(`/users/${encodeURIComponent(id)}`); }
  findUsers(q) { return this.get(`/users?q=${encodeURIComponent(q)}&limit=20`); }

  friends() { return this.get('/friends'); }
  requests() { return this.get('/friends/requests'); }
  requestFriend(user_id, note) {
    return this.post('/friends/requests', note ? { user_id, note } : { user_id });
  }
  answerRequest(id, accept) {
    return this.post(`/friends/requests/${encodeURIComponent(id)}/${accept ? 'accept' : 'reject'}`);
  }
  unfriend(id) { return this.del(`/friends/${encodeURIComponent(id)}`); }

  createGroup(name, member_ids, isPublic) {
    return this.post('/groups', { name, member_ids, public: !!isPublic });
  }
  group(id) { return this.get(`/groups/${encodeURIComponent(id)}`); }
  members(id, after) {
    const q = after ? `&after=${encodeURIComponent(after)}` : '';
    return this.get(`/groups/${encodeURIComponent(id)}/members?limit=200${q}`);
  }
  addMembers(id, user_ids) { return this.post(`/groups/${encodeURIComponent(id)}/members`, { user_ids }); }
  removeMember(id, uid) {
    return this.del(`/groups/${encodeURIComponent(id)}/members/${encodeURIComponent(uid)}`);
  }
  setRole(id, uid, role) {
    return this.patch(`/groups/${encodeURIComponent(id)}/members/${encodeURIComponent(uid)}`, { role });
  }
  joinGroup(id) { return this.post(`/groups/${encodeURIComponent(id)}/join`); }
  // Group settings and moderation (docs/protocol.md, "Groups"): `fields` of PATCH are
  // `{name?, description?, public?}`; a mute's `duration_s` 0 lasts until lifted.
  updateGroup(id, fields) { return this.patch(`/groups/${encodeURIComponent(id)}`, fields); }
  deleteGroup(id) { return this.del(`/groups/${encodeURIComponent(id)}`); }
  groupInvites(id) { return this.get(`/groups/${encodeURIComponent(id)}/invites`); }
  createGroupInvite(id, uses, expires_in_s) {
    return this.post(`/groups/${encodeURIComponent(id)}/invites`, { uses, expires_in_s });
  }
  revokeGroupInvite(id, code) {
    return this.del(`/groups/${encodeURIComponent(id)}/invites/${encodeURIComponent(code)}`);
  }
  joinByInvite(code) { return this.post('/groups/join', { code }); }
  groupMutes(id) { return this.get(`/groups/${encodeURIComponent(id)}/mutes`); }
  muteMember(id, uid, duration_s) {
    return this.post(`/groups/${encodeURIComponent(id)}/members/${encodeURIComponent(uid)}/mute`, { duration_s });
  }
  unmuteMember(id, uid) {
    return this.del(`/groups/${encodeURIComponent(id)}/members/${encodeURIComponent(uid)}/mute`);
  }
  groupBans(id) { return this.get(`/groups/${encodeURIComponent(id)}/bans`); }
  ban(id, user_id) { return this.post(`/groups/${encodeURIComponent(id)}/bans`, { user_id }); }
  unban(id, uid) {
    return this.del(`/groups/${encodeURIComponent(id)}/bans/${encodeURIComponent(uid)}`);
  }
  publicGroups(q, after) {
    const a = after ? `&after=${encodeURIComponent(after)}` : '';
    return this.get(`/groups?public=true&q=${encodeURIComponent(q || '')}&limit=50${a}`);
  }

  conversations() { return this.get('/conversations'); }
  dm(user_id) { return this.post('/conversations/dm', { user_id }); }
  history(cid, { before, after, limit = 50 } = {}) {
    let q = `limit=${limit}`;
    if (before !== undefined) q += `&before_seq=${before}`;
    if (after !== undefined) q += `&after_seq=${after}`;
    return this.get(`/conversations/${encodeURIComponent(cid)}/messages?${q}`);
  }
  sendMessage(cid, client_msg_id, body) {
    return this.post(`/conversations/${encodeURIComponent(cid)}/messages`, { client_msg_id, body });
  }
  mute(cid, muted_until) {
    return this.patch(`/conversations/${encodeURIComponent(cid)}`, { muted_until });
  }
  markRead(cid, seq) { return this.post(`/conversations/${encodeURIComponent(cid)}/read`, { seq }); }
  readers(cid, seq) {
    return this.get(`/conversations/${encodeURIComponent(cid)}/messages/${seq}/readers`);
  }
  // Uploads a File or Blob as the raw body of POST /files (docs/protocol.md, "Files and
  // images"). XMLHttpRequest, not fetch: it reports upload progress. `onProgress(sent, total)`;
  // `signal` (an AbortSignal) cancels. Resolves with the file object; rejects with an ApiError
  // (code 'aborted' when cancelled).
  upload(file, name, { onProgress, signal } = {}) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', `${this.base}/files?name=${encodeURIComponent(name)}`);
      if (this.token) xhr.setRequestHeader('Authorization', `Bearer ${this.token}`);
      xhr.responseType = 'json';
      xhr.upload.onprogress = (ev) => { if (onProgress) onProgress(ev.loaded, ev.total || file.size); };
      xhr.onload = () => {
        const data = xhr.response;
        if (xhr.status === 201 && data && data.file) {
          resolve(data.file);
          return;
        }
        const err = (data && data.error) || {};
        reject(new ApiError(xhr.status, err.code || 'internal', err.message || `Upload failed (${xhr.status}).`));
      };
      xhr.onerror = () => reject(new ApiError(0, 'unavailable', 'The upload was cut off.'));
      xhr.onabort = () => reject(new ApiError(0, 'aborted', 'Upload cancelled.'));
      if (signal) {
        if (signal.aborted) { reject(new ApiError(0, 'aborted', 'Upload cancelled.')); return; }
        signal.addEventListener('abort', () => xhr.abort(), { once: true });
      }
      xhr.send(file);
    });
  }

  // A file's bytes (or its thumbnail) as an object URL, fetched with the bearer token (an
  // <img src> could not send it). Cached per file for the page's life; the bytes behind an id
  // never change.
  fileUrl(file_id, thumbnail = false) {
    const key = `${file_id}${thumbnail ? '/thumbnail' : ''}`;
    this.urls = this.urls || new Map();
    if (!this.urls.has(key)) {
      const p = (async () => {
        const res = await fetch(`${this.base}/files/${encodeURIComponent(file_id)}${thumbnail ? '/thumbnail' : ''}`, {
          headers: this.token ? { Authorization: `Bearer ${this.token}` } : {},
        });
        if (!res.ok) throw new ApiError(res.status, res.status === 404 ? 'not_found' : 'forbidden', 'The file cannot be fetched.');
        return URL.createObjectURL(await res.blob());
      })();
      p.catch(() => this.urls.delete(key));
      this.urls.set(key, p);
    }
    return this.urls.get(key);
  }

  // Forgets the fetched files (at the end of a session: the next user may not read them).
  forgetFiles() {
    for (const p of (this.urls || new Map()).values()) p.then((u) => URL.revokeObjectURL(u), () => {});
    this.urls = new Map();
  }

  search(q, cid) {
    const c = cid ? `&conversation_id=${encodeURIComponent(cid)}` : '';
    return this.get(`/search/messages?q=${encodeURIComponent(q)}&limit=50${c}`);
  }
}
