"""The backends' own exceptions: each has a stable code and a message a person can act on."""

from __future__ import annotations


class BackendError(Exception):
    """A generation could not be completed. ``code`` is stable; ``message`` is for people."""

    code = "backend_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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


class BackendTimeout(BackendError):
    """The backend took too long to connect, to start, or between tokens."""

    code = "backend_timeout"


class BackendProtocolError(BackendError):
    """The backend answered with something that is not its documented stream format."""

    code = "backend_bad_response"


class BackendReportedError(BackendError):
    """The backend reported an error of its own, as a status or inside the stream."""

    code = "backend_reported_error"


class BackendMisconfigured(BackendError):
    """Stormchat's own configuration for this backend is incomplete or invalid."""

    code = "backend_misconfigured"
