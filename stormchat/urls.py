"""Top-level URL configuration."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from stormchat import pwa
from stormchat.accounts import admin_login

urlpatterns = [
    # Before the admin's own URLs, so its login is rate-limited per address too.
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("accounts/", include("stormchat.accounts")),
    # The installable app; the service worker at the root, so its scope is the site.
    path("manifest.webmanifest", pwa.manifest, name="manifest"),
    path("sw.js", pwa.service_worker, name="service-worker"),
    path("offline/", pwa.offline, name="offline"),
    # Uploaded persona avatars. Only staff can upload, and a self-hosted site has no
    # separate media server, so Django serves them in every mode.
    re_path(
        rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.*)$",
        serve,
        {"document_root": settings.MEDIA_ROOT},
    ),
    path("", include("chat.urls")),
]
