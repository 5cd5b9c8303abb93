"""Who owns a chat: a logged-in user, or the anonymous session that created it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest


@dataclass(frozen=True, slots=True)
class Owner:
    """The owner of chats: a user id, or else an anonymous session key."""

    user_id: int | None = None
    session_key: str | None = None

    @property
    def is_known(self) -> bool:
        """True when there is someone to own chats."""
        return self.user_id is not None or bool(self.session_key)

    @property
    def identity(self) -> str:
        """A stable string naming this owner, for rate limits and the like."""
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"session:{self.session_key or ''}"

    @classmethod
    def from_request(cls, request: HttpRequest) -> Owner:
        """The owner behind an HTTP request. Never creates a session: a visitor who has
        done nothing owns nothing (chat/visitors.py gives one to a visitor who writes)."""
        if request.user.is_authenticated:
            return cls(user_id=request.user.pk)
        return cls(session_key=request.session.session_key or None)

    @classmethod
    def from_scope(cls, scope: dict[str, Any]) -> Owner:
        """The owner behind a WebSocket scope; never creates a session."""
        user = scope.get("user")
        if user is not None and user.is_authenticated:
            return cls(user_id=user.pk)
        session = scope.get("session")
        return cls(session_key=getattr(session, "session_key", None) or None)
