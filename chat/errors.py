"""Every error a person can cause or meet, in one tree; each has a stable code.

``ChatError`` is the root. Refusals of a request (busy, too long, not found...) and the
LLM backends' failures (``BackendError`` and its kinds) are all ChatErrors, so every
surface turns any of them into its own shape the same way: the WebSocket sends an
``error`` event, HTTP answers ``http_status`` with ``{"error": {"code", "message"}}``, a
command prints the message and exits 1. ``as_chat_error`` maps anything else to
``internal_error``.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


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


class BadRequest(ChatError):
    """A frame, form or query that is malformed (a number that isn't one, and so on)."""

    code = "bad_request"


class NotFound(ChatError):
    """The chat or message does not exist, or is someone else's: both look the same."""

    code = "not_found"
    http_status = 404


class ChatBusy(ChatError):
    """A reply is already being written in this chat."""

    code = "busy"
    http_status = 409


class NotStreaming(ChatError):
    """``stop`` when no reply is being written."""

    code = "not_streaming"
    http_status = 409


class NothingToRegenerate(ChatError):
    """There is no finished assistant reply to write again."""

    code = "nothing_to_regenerate"


class NothingToContinue(ChatError):
    """The chat does not end with a reply that could be extended."""

    code = "nothing_to_continue"


class NoSuchSwipe(ChatError):
    """The message has no alternative with that number."""

    code = "no_such_swipe"


class MessageNotDeletable(ChatError):
    """The message can't be removed (the opening greeting, while it is alone)."""

    code = "not_deletable"
    http_status = 409


class MessageNotEditable(ChatError):
    """Only the owner's own user messages can be edited."""

    code = "not_editable"


class InvalidContent(ChatError):
    """A message that is empty or not text."""

    code = "invalid_content"


class ContentTooLong(ChatError):
    """A message longer than MAX_MESSAGE_CHARS."""

    code = "too_long"


class UnsupportedFile(ChatError):
    """An attachment that is neither a picture we read nor a text file."""

    code = "unsupported_file"


class AttachmentTooLarge(ChatError):
    """An attachment, or one message's together, over ATTACHMENT_MAX_BYTES."""

    code = "too_large"
    http_status = 413


class TooManyAttachments(ChatError):
    """More attachments than a message (or a chat's composer) may hold."""

    code = "too_many_attachments"


class VisionUnsupported(ChatError):
    """Pictures sent to a backend or model that can't see them (nothing was sent)."""

    code = "vision_unsupported"


class SpeechDisabled(ChatError):
    """Speech is switched off (TTS_BACKEND=none)."""

    code = "tts_disabled"
    http_status = 404


class SpeechUnavailable(ChatError):
    """The speech backend can't be reached, or its engine can't be loaded."""

    code = "tts_unavailable"
    http_status = 503


class SpeechFailed(ChatError):
    """The speech backend answered with an error or something that isn't audio."""

    code = "tts_failed"
    http_status = 502


class TranscriptionDisabled(ChatError):
    """The server does not transcribe (STT_BACKEND is browser or none)."""

    code = "stt_disabled"
    http_status = 404


class TranscriptionUnavailable(ChatError):
    """The transcription server can't be reached."""

    code = "stt_unavailable"
    http_status = 503


class TranscriptionFailed(ChatError):
    """The transcription server answered with an error or no text."""

    code = "stt_failed"
    http_status = 502


class UnsupportedAudio(ChatError):
    """A recording that isn't WebM, Ogg, WAV, MP3, MP4/M4A or FLAC audio."""

    code = "unsupported_audio"


class UnknownPersona(ChatError):
    """A slug that names no active persona."""

    code = "unknown_persona"


class SessionEnded(ChatError):
    """The session a socket was opened with is gone (a logout, a password change
    elsewhere): the socket is closed with 4401 rather than told."""

    code = "session_ended"
    http_status = 401


class NotAMember(ChatError):
    """A persona asked to speak in a scene it is not in, or is muted in."""

    code = "not_a_member"


class NothingToSay(ChatError):
    """A message that is not a finished reply with words in it."""

    code = "nothing_to_say"


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


class InternalError(ChatError):
    """A bug: logged with its traceback; people see only this."""

    code = "internal_error"
    http_status = 500


# --- the LLM backends ------------------------------------------------------------------


class BackendError(ChatError):
    """A generation could not be completed. ``code`` is stable; ``message`` is for people
    and names the problem, never an address; ``detail`` (host, OS error) is for operators:
    logs, ``llm_check`` and staff's ``/health``."""

    code = "backend_error"
    http_status = 502

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class BackendUnreachable(BackendError):
    """The backend's server could not be reached at all."""

    code = "backend_unreachable"


class BackendAuthFailed(BackendError):
    """The backend refused our credentials (401/403)."""

    code = "backend_auth_failed"


class ModelNotFound(BackendError):
    """The backend does not have the requested model (404)."""

    code = "model_not_found"


class BackendRateLimited(BackendError):
    """The backend asked us to slow down (429)."""

    code = "backend_rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def fields(self) -> dict[str, object]:
        """The seconds the backend asked us to wait, when it said."""
        return {} if self.retry_after is None else {"retry_after": round(self.retry_after)}


class BackendTimeout(BackendError):
    """The backend took too long to connect, to start, or between tokens."""

    code = "backend_timeout"
    http_status = 504


class BackendProtocolError(BackendError):
    """The backend answered with something that is not its documented stream format."""

    code = "backend_bad_response"


class BackendReportedError(BackendError):
    """The backend reported an error of its own, as a status or inside the stream."""

    code = "backend_reported_error"


class BackendMisconfigured(BackendError):
    """Stormchat's own configuration for this backend is incomplete or invalid."""

    code = "backend_misconfigured"
    http_status = 503


def as_chat_error(error: BaseException) -> ChatError:
    """The error as people see it: itself when it is ours, else a logged internal error."""
    if isinstance(error, ChatError):
        return error
    logger.error("unexpected error", exc_info=error)
    return InternalError("Something went wrong on our side; it has been logged.")
