/* Stormchat's service worker. It keeps the static files and the offline page, and
 * nothing else: chat pages and API answers hold private text, so they always come
 * from the network (and are never stored here). */
"use strict";
const CONFIG = {{ config|safe }};

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CONFIG.cache).then((cache) => cache.addAll(CONFIG.precached)).then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  // Drop the caches of earlier deploys.
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("stormchat-") && n !== CONFIG.cache).map((n) => caches.delete(n))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith(CONFIG.static)) {
    // Static files carry their content hash: the cached copy is the right one.
    event.respondWith(
      caches.open(CONFIG.cache).then((cache) =>
        cache.match(request).then((hit) => hit || fetch(request).then((response) => {
          if (response.ok) cache.put(request, response.clone());
          return response;
        }))
      )
    );
    return;
  }
  if (request.mode === "navigate") {
    // Pages always come from the network; without one, the offline page.
    event.respondWith(fetch(request).catch(() => caches.match(CONFIG.offline)));
  }
  // Everything else (the API, HTML fragments, media) is left to the network, uncached.
});
