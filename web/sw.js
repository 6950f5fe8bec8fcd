// The service worker of Web Push (issue 21; docs/integrations.md, "Web Push"). Served from the
// site's root, so its scope is the whole client. It does one thing: a push from the server (a
// direct message or a mention while no tab was connected) becomes a notification, and a click
// on it focuses an open tab on that conversation or opens one. No caching, no fetch handler.

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = {};
  }
  const title = data.sender_name || 'monochat';
  const fallback = data.mention ? 'mentioned you' : 'sent you a message';
  const body = typeof data.preview === 'string' && data.preview ? data.preview : fallback;
  event.waitUntil(self.registration.showNotification(title, {
    body,
    tag: data.conversation_id || 'monochat',
    icon: '/favicon.svg',
    data: { conversation_id: data.conversation_id || null },
  }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const cid = event.notification.data && event.notification.data.conversation_id;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const w of windows) {
      if (new URL(w.url).origin !== self.location.origin) continue;
      // The tab switches first: a refused focus (the browser lets only its own click focus a
      // window) must not keep it on another conversation.
      if (cid) w.postMessage({ type: 'open-conversation', conversation_id: cid });
      await w.focus().catch(() => {});
      return;
    }
    await self.clients.openWindow(cid ? `/#c=${encodeURIComponent(cid)}` : '/');
  })());
});
