// Starts the real monochat binary for the browser tests: a temporary data dir, port 0 (or a
// given port, to restart on the same address), fast password hashing as in
// tests/support/api.cpp fast_test_config, and the bound address read from the startup log.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class Server {
  constructor({ engine = 'memory', dataDir = null, heartbeatMs = 30000 } = {}) {
    this.engine = engine;
    this.dir = dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'monochat-browser-'));
    this.ownDir = !dataDir;
    this.heartbeatMs = heartbeatMs;
    this.port = 0;
    this.proc = null;
    this.log = '';
  }

  get url() { return `http://127.0.0.1:${this.port}`; }

  async start(timeoutMs = 15000) {
    const binary = process.env.MONOCHAT_BINARY;
    if (!binary) throw new Error('MONOCHAT_BINARY is not set');
    const config = {
      server: { host: '127.0.0.1', port: this.port, heartbeat_ms: this.heartbeatMs },
      storage: { data_dir: path.join(this.dir, 'data'), engine: this.engine, sync: 'none' },
      log: { level: 'info' },
      // `webadmin` may use the admin API (bots: client.test.mjs) once a test registers it.
      auth: { argon2_ops: 1, argon2_memory_kib: 64, admins: ['webadmin'] },
      limits: { auth_rate: 1000000, send_rate: 100000, send_burst: 100000 },
    };
    const cfgPath = path.join(this.dir, 'monochat.json');
    fs.writeFileSync(cfgPath, JSON.stringify(config, null, 2));
    this.proc = spawn(binary, ['--config', cfgPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = this.proc;
    const exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => resolve({ code, signal }));
      proc.once('error', (e) => {
        this.log += `${e.message}\n`;
        resolve({ code: null, signal: null });
      });
    });
    proc.exited = exited;
    const listening = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`monochat did not start:\n${this.log}`)), timeoutMs);
      const onData = (chunk) => {
        this.log += chunk.toString();
        const m = /msg=listening addr=[0-9.]+:([0-9]+)/.exec(this.log);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      proc.stderr.on('data', onData);
      proc.stdout.on('data', onData);
      exited.then(({ code }) => {
        clearTimeout(timer);
        reject(new Error(`monochat exited with ${code}:\n${this.log}`));
      });
    });
    this.port = await listening;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const r = await fetch(`${this.url}/readyz`);
        if (r.ok) break;
      } catch (e) { /* not yet */ }
      if (Date.now() > deadline) throw new Error('monochat never became ready');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  // SIGTERM, and the exit code (the server must stop cleanly).
  async stop() {
    if (!this.proc) return 0;
    const proc = this.proc;
    this.proc = null;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10000);
    const { code } = await proc.exited;
    clearTimeout(timer);
    return code;
  }

  cleanup() {
    if (this.ownDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // REST shortcuts for setting up what a test is not about.
  async api(method, p, body, token) {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    const r = await fetch(`${this.url}/api/v1${p}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  // A user registered through the API: its user record, token and username. Without a
  // display name the server takes the username.
  async register(username, displayName) {
    const r = await this.api('POST', '/auth/register',
      { username, password: 'correct horse battery', display_name: displayName });
    return { ...r.user, token: r.token, username };
  }

  async befriend(a, b) {
    const r = await this.api('POST', '/friends/requests', { user_id: b.user_id }, a.token);
    await this.api('POST', `/friends/requests/${r.request.request_id}/accept`, undefined, b.token);
  }
}
