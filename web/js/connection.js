// The WebSocket of the protocol: one connection at a time, reconnecting by itself with
// exponential backoff (0.5 s doubling to 15 s, with jitter) after a server restart or a network
// loss, request/reply matching by `id`, and a client heartbeat that notices a dead network.

export class Connection {
  constructor(tokenFn, handlers) {
    this.tokenFn = tokenFn;
    this.handlers = handlers; // onHello(frame), onFrame(frame), onState(state), onAuthLost()
    this.ws = null;
    this.state = 'idle'; // idle | connecting | open | waiting | stopped
    this.attempt = 0;
    this.nextId = 1;
    this.waiting = new Map(); // id -> {resolve, reject, timer}
    this.retryTimer = null;
    this.pingTimer = null;
    this.heartbeatMs = 30000;
    this.stopped = true;
    this.retryAt = 0;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = null;
      ws.close(1000, 'bye');
    }
    this.failAll('closed');
    this.setState('stopped');
  }

  // Drop the connection now (the browser went offline) and try again later.
  drop() {
    const ws = this.ws;
    if (!ws) return;
    ws.close(4000, 'network');
    // Without a network the closing handshake may never finish: treat it as closed now.
    this.closed(ws, 4000);
  }

  // Try again at once (the browser came back online).
  now() {
    if (this.stopped || this.state === 'open' || this.state === 'connecting') return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.open();
  }

  setState(s) {
    this.state = s;
    if (this.handlers.onState) this.handlers.onState(s, this);
  }

  open() {
    if (this.stopped) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // The token travels as a subprotocol, not in the URL, where proxies and logs would keep it.
    const url = `${proto}//${location.host}/api/v1/ws`;
    this.setState('connecting');
    let ws;
    try {
      ws = new WebSocket(url, ['monochat.v1', `monochat.token.${this.tokenFn()}`]);
    } catch (e) {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    let hello = false;
    ws.onmessage = (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      this.lastFrameAt = Date.now();
      if (!hello && frame.type === 'hello') {
        hello = true;
        this.attempt = 0;
        this.heartbeatMs = frame.heartbeat_ms || 30000;
        this.startHeartbeat();
        this.setState('open');
        this.handlers.onHello(frame);
        return;
      }
      if (frame.id && this.waiting.has(frame.id)) {
        const w = this.waiting.get(frame.id);
        this.waiting.delete(frame.id);
        clearTimeout(w.timer);
        if (frame.type === 'error') w.reject(frame);
        else w.resolve(frame);
        return;
      }
      this.handlers.onFrame(frame);
    };
    ws.onclose = (ev) => this.closed(ws, ev.code);
    ws.onerror = () => {};
  }

  closed(ws, code) {
    if (this.ws !== ws) return;
    this.ws = null;
    clearInterval(this.pingTimer);
    this.failAll('disconnected');
    if (code === 4001) {
      // The token was logged out (here or elsewhere).
      this.stopped = true;
      this.setState('stopped');
      this.handlers.onAuthLost();
      return;
    }
    // 4003: an admin disconnected or suspended the user. A suspension revoked the token, which
    // the next check finds at once (the session ends); after a disconnect the retry reconnects.
    if (code === 4003 && this.handlers.onRepeatedFailure) this.handlers.onRepeatedFailure();
    this.scheduleRetry();
  }

  scheduleRetry() {
    if (this.stopped) return;
    const base = Math.min(15000, 500 * 2 ** this.attempt);
    const delay = Math.round(base / 2 + Math.random() * base / 2);
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setState('waiting');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delay);
    // After a few failures, find out whether the token itself is gone (a refused upgrade
    // looks like any other failure to a browser).
    if (this.attempt === 3 && this.handlers.onRepeatedFailure) this.handlers.onRepeatedFailure();
  }

  startHeartbeat() {
    clearInterval(this.pingTimer);
    // The server closes a silent connection after 3 x heartbeat_ms; a ping keeps it alive and
    // its pong proves the network still works.
    const every = Math.max(1000, Math.min(15000, Math.floor(this.heartbeatMs / 2)));
    this.pingTimer = setInterval(() => {
      this.request({ type: 'ping' }, Math.max(5000, every)).catch((e) => {
        if (e && e.message === 'no reply') this.drop();
      });
    }, every);
  }

  failAll(reason) {
    for (const [, w] of this.waiting) {
      clearTimeout(w.timer);
      w.reject({ type: 'error', code: 'unavailable', message: reason, transport: true });
    }
    this.waiting.clear();
  }

  get isOpen() {
    return this.state === 'open' && this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  // Sends a frame without waiting for a reply.
  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  // Sends a frame with a fresh `id`; resolves with the reply, rejects with an error frame.
  request(frame, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      if (!this.isOpen) {
        reject({ type: 'error', code: 'unavailable', message: 'not connected', transport: true });
        return;
      }
      const id = `r${this.nextId++}`;
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject({ type: 'error', code: 'unavailable', message: 'no reply', transport: true });
      }, timeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...frame, id }));
    });
  }
}
