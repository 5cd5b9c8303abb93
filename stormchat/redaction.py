"""Credentials never reach an error report, a debug page or a log line.

Django's ``SafeExceptionReporterFilter`` hides settings whose *names* look secret (KEY,
TOKEN, PASS...). Credentials can also sit inside values: ``LLM_BASE_URL`` or
``DATABASE_URL`` with ``user:password@``, and the request's cookies (session, CSRF). These
filters mask those wherever they appear.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter

# scheme://user:password@host or scheme://token@host
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@'\"]+@")
MASK = "********"


def redact(text: str) -> str:
    """The text with credentials inside URLs masked."""
    return _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{MASK}@", text)


class RedactingReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, plus URL credentials in any setting and the cookies."""

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CSRF|SESSION", flags=re.I
    )

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        """Mask secret-looking settings, and credentials inside any URL."""
        cleansed = super().cleanse_setting(key, value)
        return redact(cleansed) if type(cleansed) is str else cleansed

    def get_safe_request_meta(self, request: HttpRequest) -> dict[str, Any]:
        """The request's META with cookies and URL credentials masked."""
        meta = super().get_safe_request_meta(request)
        return {k: redact(v) if type(v) is str else v for k, v in meta.items()}


class RedactingLogFilter(logging.Filter):
    """Masks credentials inside URLs in every log record (message and traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's text; never drops it."""
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        record.msg = redact(str(record.msg))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
