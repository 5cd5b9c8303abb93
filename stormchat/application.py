"""The ASGI application, without side effects (the server entry point is asgi.py)."""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application


def build_application() -> Any:
    """HTTP through Django (bodies capped at REQUEST_MAX_BYTES); WebSockets through the
    exact origin check, auth, and the chat routes."""
    django_asgi_app = get_asgi_application()
    # Imported after Django is set up, since the consumers import models.
    from stormchat.backpressure import BackpressureMiddleware
    from stormchat.body_limit import BodyLimitMiddleware
    from stormchat.origins import SameOriginValidator
    from stormchat.routing import websocket_urlpatterns

    return ProtocolTypeRouter(
        {
            "http": BodyLimitMiddleware(django_asgi_app),
            "websocket": BackpressureMiddleware(
                SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
            ),
        }
    )
