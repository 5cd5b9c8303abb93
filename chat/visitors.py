"""Anonymous visitors: a session only for one who writes, limits per address, and a
binding to the browser that made it.

A visitor gets a session (a row in the session store) when they first create a chat,
not for looking at the gallery, and an address may start only so many new sessions, chats
and messages (``RATE_LIMIT_ANON_SESSIONS``, ``RATE_LIMIT_ANON_CHATS``,
``RATE_LIMIT_ANON_MESSAGES``): per-session caps alone are beaten by new sessions.

A new session is bound to the browser's CSRF cookie. Logging in moves an anonymous
session's chats into the account only if the browser still holds that cookie, so a
session key planted in someone else's browser (session fixation) moves nothing.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.http import HttpRequest

from chat.errors import RateLimited
from chat.ownership import Owner
from stormchat.limits import attempt, client_ip, limit_for

BROWSER_KEY = "stormchat_browser"


def owner_for_writing(request: HttpRequest) -> Owner:
    """The request's owner; a first-time anonymous visitor gets a session, counted against
    their address."""
    owner = Owner.from_request(request)
    if owner.is_known:
        return owner
    decision = attempt(limit_for("anon_sessions"), client_ip(request))
    if not decision.allowed:
        raise RateLimited(
            "Too many new visitors from your address. Sign up, or try again in "
            f"{decision.retry_after} s.",
            retry_after=decision.retry_after,
        )
    request.session.create()
    request.session[BROWSER_KEY] = _browser(request)
    return Owner(session_key=request.session.session_key)


def session_made_here(request: HttpRequest) -> bool:
    """Whether this browser made its anonymous session (it holds the cookie the session
    was bound to): only then may logging in take the session's chats."""
    bound = request.session.get(BROWSER_KEY)
    return bool(bound) and bound == _browser(request)


def _browser(request: HttpRequest) -> str:
    cookie = request.COOKIES.get(settings.CSRF_COOKIE_NAME, "")
    return hashlib.sha256(cookie.encode()).hexdigest() if cookie else ""
