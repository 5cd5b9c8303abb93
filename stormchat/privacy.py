"""Private answers are never stored by a browser cache or a proxy.

Chat pages, their fragments and every ``/api/`` answer carry one person's conversations:
``Cache-Control: private, no-store``, in development and production alike (Django's own
``Vary: Cookie`` alone lets a shared cache keep a copy per cookie).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

PRIVATE_PREFIXES = ("/chats/", "/api/", "/accounts/")


class PrivatePagesMiddleware:
    """Mark the private parts of the site ``private, no-store``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(PRIVATE_PREFIXES):
            response["Cache-Control"] = "private, no-store"
        return response
