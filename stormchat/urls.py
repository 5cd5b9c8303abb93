"""Top-level URL configuration."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("stormchat.accounts")),
    # Uploaded persona avatars. Only staff can upload, and a self-hosted site has no
    # separate media server, so Django serves them in every mode.
    re_path(
        rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.*)$",
        serve,
        {"document_root": settings.MEDIA_ROOT},
    ),
    path("", include("chat.urls")),
]
