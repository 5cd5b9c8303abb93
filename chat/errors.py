"""Errors a person can cause or meet while chatting; each has a stable code."""

from __future__ import annotations


class ChatError(Exception):
    """A request about a chat that can't be carried out. ``code`` is stable."""

    code = "bad_request"
    # The HTTP status the same refusal gets from a view or the JSON API.
    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def fields(self) -> dict[str, object]:
        """Extra fields for the error event or body, beside code and message."""
        return {}


class ChatBusy(ChatError):
    """A reply is already being written in this chat."""

    code = "busy"
    http_status = 409


class NothingToRegenerate(ChatError):
    """There is no finished assistant reply to write again."""

    code = "nothing_to_regenerate"


class MessageNotEditable(ChatError):
    """Only the owner's own user messages can be edited."""

    code = "not_editable"


class InvalidContent(ChatError):
    """A message that is empty or not text."""

    code = "invalid_content"


class ContentTooLong(ChatError):
    """A message longer than MAX_MESSAGE_CHARS."""

    code = "too_long"


class RateLimited(ChatError):
    """Too many attempts in the current window; try again after ``retry_after`` s."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def fields(self) -> dict[str, object]:
        """The seconds to wait."""
        return {"retry_after": self.retry_after}


class TooManyChats(ChatError):
    """An anonymous session has as many chats as it may keep."""

    code = "too_many_chats"
    http_status = 429


class GreetingLocked(ChatError):
    """The greeting can be swapped only before anyone has written."""

    code = "greeting_locked"
    http_status = 409
