/* global self, caches, fetch, Response */
// The companion's service worker: the app shell is kept on the phone so the app opens after a
// reload with a poor signal or none. Shell files are served from the cache at once and refreshed
// in the background; the API and the MQTT WebSocket always go to the network.
const CACHE = 'lw-companion-v5';
// The shared modules the hub serves beside /companion/ (hub/http/browser-modules.ts): the app imports
// the protocol's names from them, so they are part of the shell.
const SHARED = ['/protocol-core.js'];
const SHELL = [
  '/companion/',
  '/companion/app.js',
  '/companion/alarm-screen.js',
  '/companion/fob-link.js',
  '/companion/hub-link.js',
  '/companion/outbox.js',
  '/companion/location.js',
  '/companion/style.css',
  '/companion/manifest.webmanifest',
  '/companion/icon.svg',
  '/companion/icon-192.png',
  '/companion/vendor/mqtt.js',
  ...SHARED,
];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || !(url.pathname.startsWith('/companion') || SHARED.includes(url.pathname))) return;
  const key = event.request.mode === 'navigate' ? '/companion/' : url.pathname;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const cached = await cache.match(key);
      const fresh = fetch(event.request)
        .then((res) => {
          if (res.ok) cache.put(key, res.clone());
          return res;
        })
        .catch(() => null);
      if (cached) {
        event.waitUntil(fresh);
        return cached;
      }
      return (await fresh) ?? new Response('offline', { status: 503, headers: { 'content-type': 'text/plain' } });
    }),
  );
});
