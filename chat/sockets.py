"""What every WebSocket on one chat shares (the chat socket and the audio socket): its
owner, its chat, the session it was opened with and the client's address."""

from __future__ import annotations

import uuid

from channels.generic.websocket import AsyncWebsocketConsumer

from chat.batching import DatabaseBatch
from chat.ownership import Owner
from chat.sessions import SessionCheck, sessions_are_current

# Every frame checks its socket's session. When many sockets send at once, their checks
# share one trip to the database thread (and one query) instead of queueing there.
_session_checks: DatabaseBatch[SessionCheck, bool] = DatabaseBatch(sessions_are_current)


class ChatSocket(AsyncWebsocketConsumer):
    """A connection to one of its owner's chats."""

    # Only the id is kept: thousands of idle connections shouldn't each hold a copy of
    # the chat and its persona's prompts (bench S4, memory per connection).
    chat_id: uuid.UUID | None = None
    owner: Owner = Owner()

    def _chat_id(self) -> uuid.UUID:
        assert self.chat_id is not None
        return self.chat_id

    def _address(self) -> str | None:
        client = self.scope.get("client")
        return str(client[0]) if client else None

    def _session(self) -> SessionCheck:
        """The session the socket was opened with, and the user it was opened for."""
        session = self.scope.get("session")
        key = session.session_key if session is not None else None
        return SessionCheck(key, self.owner.user_id)

    async def _session_is_current(self) -> bool:
        """Whether the session the socket was opened with is still good (a logout or a
        password change elsewhere ends it)."""
        return await _session_checks(self._session())
