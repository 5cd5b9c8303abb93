"""``Server-Timing`` on every response: how long Django took, for browsers and benchmarks.

Browsers show the header in their developer tools (Network → Timing), so anyone can see
how much of a slow page was the server's; ``bench`` S6 reads it for the chat page's
server time. It is first in MIDDLEWARE, so the figure covers every middleware and the
view, but not the network or the ASGI server's own parsing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase


class ServerTimingMiddleware:
    """Adds ``Server-Timing: app;dur=<milliseconds>`` to each response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        response["Server-Timing"] = f'app;dur={elapsed_ms:.1f};desc="Django"'
        return response
