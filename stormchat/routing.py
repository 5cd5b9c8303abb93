"""WebSocket URL routes."""

from __future__ import annotations

from django.urls import path

from chat.audio_consumer import AudioConsumer
from chat.consumers import ChatConsumer

# Any id reaches the consumer, so a malformed one is refused exactly like a missing chat.
websocket_urlpatterns = [
    path("ws/chats/<str:chat_id>/", ChatConsumer.as_asgi()),
    path("ws/audio/<str:chat_id>/", AudioConsumer.as_asgi()),
]
