"""Errors a person can cause or meet while chatting; each has a stable code."""

from __future__ import annotations


class ChatError(Exception):
    """A request about a chat that can't be carried out. ``code`` is stable."""

    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ChatBusy(ChatError):
    """A reply is already being written in this chat."""

    code = "busy"


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
