"""The installable app: the web app manifest, the service worker and its offline page.

The service worker caches the static files (CSS, scripts, avatars, icons) and the offline
page, and nothing else: a chat's HTML and the API's answers hold private text, so they
always come from the network. It is served from the site's root so its scope is the
whole site, and never cached by the browser's HTTP cache, so a deploy reaches it at once.
"""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

# What the service worker stores when it installs: enough to draw the offline page and
# the chat page's chrome. Static URLs carry their content hash in production, so a deploy
# with new files is a new cache.
PRECACHED_STATIC = (
    "css/stormchat.css",
    "js/stormchat.js",
    "avatars/default.svg",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "icons/maskable-512.png",
)
THEME_COLOR = "#0e1b2e"
BACKGROUND_COLOR = "#07101d"


@require_safe
@cache_control(max_age=3600, public=True)
def manifest(request: HttpRequest) -> HttpResponse:
    """The web app manifest (``application/manifest+json``)."""
    icons = [
        {"src": static("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
        {"src": static("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        {
            "src": static("icons/maskable-512.png"),
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        },
    ]
    data = {
        "id": "/",
        "name": "Stormchat",
        "short_name": "Stormchat",
        "description": "Talk with the characters of The Stormlight Archive.",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "icons": icons,
    }
    return HttpResponse(json.dumps(data, indent=1), content_type="application/manifest+json")


@require_safe
@cache_control(no_cache=True)
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker script, for the whole site's scope."""
    offline_url = reverse("offline")
    precached = [*(static(path) for path in PRECACHED_STATIC), offline_url]
    version = hashlib.sha256("\n".join(precached).encode()).hexdigest()[:12]
    config = {
        "cache": f"stormchat-{version}",
        "precached": precached,
        "offline": offline_url,
        "static": settings.STATIC_URL,
    }
    response = render(
        request,
        "pwa/sw.js",
        {"config": json.dumps(config)},
        content_type="text/javascript; charset=utf-8",
    )
    response["Service-Worker-Allowed"] = "/"
    return response


@require_safe
@cache_control(max_age=3600, public=True)
def offline(request: HttpRequest) -> HttpResponse:
    """What an installed app shows without a network: the same for everyone, so it holds
    nothing private and can be cached."""
    return render(request, "pwa/offline.html", {"theme_color": THEME_COLOR})
