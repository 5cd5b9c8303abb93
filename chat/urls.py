"""URLs for the browser pages, the JSON API and the health probe."""

from __future__ import annotations

from django.urls import path

from chat import api, health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("health", health.health, name="health"),
    path("api/personas/", api.personas, name="api-personas"),
    path("api/chats/", api.chats, name="api-chats"),
    path("api/chats/<str:chat_id>/", api.chat, name="api-chat"),
]
