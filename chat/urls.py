"""URLs for the browser pages, the JSON API and the health probe."""

from __future__ import annotations

from django.urls import path

from chat import api, attachment_api, health, metrics, user_api, views, voice_api

urlpatterns = [
    path("", views.home, name="home"),
    path("chats/new/", views.chat_new, name="chat-new"),
    path("chats/list/", views.chat_list, name="chat-list"),
    path("chats/<str:chat_id>/", views.chat_page, name="chat-page"),
    path("chats/<str:chat_id>/older/", views.chat_older_messages, name="chat-older"),
    path(
        "chats/<str:chat_id>/messages/<str:message_id>/",
        views.chat_message_view,
        name="chat-message",
    ),
    path("chats/<str:chat_id>/rename/", views.chat_rename_view, name="chat-rename"),
    path("chats/<str:chat_id>/delete/", views.chat_delete_view, name="chat-delete"),
    path("chats/<str:chat_id>/greeting/", views.chat_greeting_view, name="chat-greeting"),
    path("chats/<str:chat_id>/lorebooks/", views.chat_lorebooks_view, name="chat-lorebooks"),
    path(
        "chats/<str:chat_id>/read-through/",
        views.chat_read_through_view,
        name="chat-read-through",
    ),
    path("health", health.health, name="health"),
    path("metrics", metrics.metrics, name="metrics"),
    path("api/personas/", api.personas, name="api-personas"),
    path("api/transcriptions/", voice_api.transcriptions, name="api-transcriptions"),
    path("api/lorebooks/", api.lorebooks, name="api-lorebooks"),
    path("api/reader/", api.reader, name="api-reader"),
    path("reading/", views.reading_view, name="reading"),
    path("api/chats/", api.chats, name="api-chats"),
    path("api/chats/<str:chat_id>/", api.chat, name="api-chat"),
    path("api/chats/<str:chat_id>/messages/", api.chat_messages, name="api-chat-messages"),
    path(
        "api/chats/<str:chat_id>/messages/<str:message_id>/",
        api.chat_message,
        name="api-chat-message",
    ),
    path(
        "api/chats/<str:chat_id>/messages/<str:message_id>/speech/",
        api.chat_message_speech,
        name="api-chat-message-speech",
    ),
    path("api/chats/<str:chat_id>/regenerate/", api.chat_regenerate, name="api-chat-regenerate"),
    path("api/chats/<str:chat_id>/stop/", api.chat_stop, name="api-chat-stop"),
    path("api/chats/<str:chat_id>/nudge/", api.chat_nudge, name="api-chat-nudge"),
    path("api/chats/<str:chat_id>/auto/", api.chat_auto, name="api-chat-auto"),
    path("api/chats/<str:chat_id>/continue/", api.chat_continue, name="api-chat-continue"),
    path("api/chats/<str:chat_id>/impersonate/", api.chat_impersonate, name="api-chat-impersonate"),
    path("api/chats/<str:chat_id>/fork/", api.chat_fork, name="api-chat-fork"),
    path("api/user-personas/", user_api.user_personas, name="api-user-personas"),
    path("api/user-personas/<str:pk>/", user_api.user_persona, name="api-user-persona"),
    path(
        "api/user-personas/<str:pk>/avatar/",
        user_api.user_persona_avatar,
        name="api-user-persona-avatar",
    ),
    path("chats/<str:chat_id>/fork/", views.chat_fork_view, name="chat-fork"),
    path("chats/<str:chat_id>/settings/", views.chat_settings_view, name="chat-settings"),
    path("you/personas/", views.user_personas_page, name="user-personas"),
    path("api/chats/<str:chat_id>/clear/", api.chat_clear, name="api-chat-clear"),
    path(
        "api/chats/<str:chat_id>/attachments/",
        attachment_api.chat_attachments,
        name="api-chat-attachments",
    ),
    path(
        "api/chats/<str:chat_id>/attachments/<str:attachment_id>/",
        attachment_api.chat_attachment,
        name="api-chat-attachment",
    ),
    path(
        "api/chats/<str:chat_id>/attachments/<str:attachment_id>/thumbnail/",
        attachment_api.chat_attachment_thumbnail,
        name="api-chat-attachment-thumbnail",
    ),
]
