"""Whether the session a socket was opened with is still good.

A socket outlives the HTTP request that authenticated it. After a logout, or a password
change on another device, its session is gone or its user's auth hash has changed; such a
socket must stop (4401) rather than keep chatting and receiving the owner's messages.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils.crypto import constant_time_compare

from stormchat.queries import first_row

CLOSE_SESSION_ENDED = 4401


def session_is_current(session_key: str | None, user_id: int | None) -> bool:
    """Whether the session still exists and, for a user, still carries their auth hash.
    Blocking (reads the session store and the user)."""
    if not session_key:
        return False
    store: Any = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if not store.exists(session_key):  # logged out, flushed, or cleared as expired
        return False
    if user_id is None:
        return True
    data = store.load()
    if data.get(SESSION_KEY) != str(user_id):
        return False
    user = first_row(get_user_model().objects.filter(pk=user_id))
    if user is None or not user.is_active:
        return False
    return constant_time_compare(data.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash())
