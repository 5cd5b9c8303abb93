"""Whether the session a socket was opened with is still good.

A socket outlives the HTTP request that authenticated it. After a logout, or a password
change on another device, its session is gone or its user's auth hash has changed; such a
socket must stop (4401) rather than keep chatting and receiving the owner's messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from stormchat.queries import first_row

CLOSE_SESSION_ENDED = 4401
DATABASE_ENGINE = "django.contrib.sessions.backends.db"


@dataclass(frozen=True)
class SessionCheck:
    """A socket's session and the user it was opened for (None: a visitor)."""

    session_key: str | None
    user_id: int | None


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
    return _signed_in(data, user_id, first_row(get_user_model().objects.filter(pk=user_id)))


def _signed_in(session: dict[str, Any], user_id: int, user: Any) -> bool:
    """Whether the session's data still signs in ``user`` (None: the user is gone): the
    same user, still active, with the same password since the session began."""
    return (
        session.get(SESSION_KEY) == str(user_id)
        and user is not None
        and user.is_active
        and constant_time_compare(session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash())
    )


def sessions_are_current(checks: Sequence[SessionCheck]) -> list[bool]:
    """``session_is_current`` for many sockets at once. With the database session engine
    it reads their sessions in one query and their users in another; with any other, it
    asks the store about each. Blocking."""
    if settings.SESSION_ENGINE != DATABASE_ENGINE:
        return [session_is_current(check.session_key, check.user_id) for check in checks]
    store: Any = import_module(DATABASE_ENGINE).SessionStore()
    keys = {check.session_key for check in checks if check.session_key}
    rows = store.get_model_class().objects.filter(session_key__in=keys)
    now = timezone.now()
    # Like the store's own exists() (any row: a key) and load() (an unexpired row's data,
    # else nothing).
    data: dict[str, dict[str, Any]] = {}
    for key, encoded, expires in rows.values_list("session_key", "session_data", "expire_date"):
        data[key] = store.decode(encoded) if expires > now else {}
    user_ids = {check.user_id for check in checks if check.user_id is not None}
    users = get_user_model().objects.in_bulk(user_ids) if user_ids else {}
    results = []
    for check in checks:
        key, user_id = check.session_key, check.user_id
        if not key or key not in data:
            results.append(False)
            continue
        if user_id is None:
            results.append(True)
            continue
        results.append(_signed_in(data[key], user_id, users.get(user_id)))
    return results
