"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stormchat.settings")
# Django must be set up before anything imports models, so this comes first.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from chat.startup import reap_orphaned_replies  # noqa: E402
from stormchat.backpressure import BackpressureMiddleware  # noqa: E402
from stormchat.routing import websocket_urlpatterns  # noqa: E402

# Replies left "streaming" by a process that died become "interrupted" (live runs of other
# processes keep a heartbeat in Redis and are left alone).
reap_orphaned_replies()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": BackpressureMiddleware(
            AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
