"""WebSocket origin check: the exact scheme, host and port of the site itself.

Channels' ``AllowedHostsOriginValidator`` compares host names only, so it accepted
``http://127.0.0.1:1``, ``https://127.0.0.1``, ``chrome-extension://127.0.0.1`` and
``http://LOCALHOST:9`` for a site on ``http://127.0.0.1:8000``; and an app on another port of
the same host counts as same-site for cookies. This validator accepts an ``Origin`` only if
it is the site's own origin (the scheme the browser used, with the request's ``Host``) or
one of ``CSRF_TRUSTED_ORIGINS``, compared exactly; a missing, ``null`` or foreign origin is
refused during the handshake, as is a ``Host`` outside ``ALLOWED_HOSTS``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]


def parse_origin(value: str) -> Origin | None:
    """(scheme, host, port) of an http(s) origin, or None for anything else."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


def site_origin(scope: dict[str, Any], headers: dict[bytes, bytes]) -> Origin | None:
    """The origin the browser sees for this site: its ``Host``, with https when the socket
    is wss or a trusted proxy says so (``SECURE_PROXY_SSL_HEADER``)."""
    host = headers.get(b"host", b"").decode("latin-1")
    domain, port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    secure = scope.get("scheme") == "wss"
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        name = proxy[0].removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1")
        secure = secure or headers.get(name, b"").decode("latin-1") == proxy[1]
    scheme = "https" if secure else "http"
    return scheme, domain.lower(), int(port) if port else DEFAULT_PORTS[scheme]


class SameOriginValidator:
    """Refuse a WebSocket whose ``Origin`` is not exactly the site's own (or trusted)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers", []))
        origin = parse_origin(headers.get(b"origin", b"").decode("latin-1"))
        trusted = {parse_origin(value) for value in settings.CSRF_TRUSTED_ORIGINS}
        if origin is None or origin not in trusted | {site_origin(scope, headers)}:
            return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)
