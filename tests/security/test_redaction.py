"""Credentials inside URLs and cookies never show in error reports, debug pages or logs."""

from __future__ import annotations

import logging
import sys

import pytest
from django.test import RequestFactory
from django.views.debug import technical_500_response
from pytest_django.fixtures import Settings

from stormchat.redaction import RedactingLogFilter, redact

SECRET_URL = "https://alice:s3cr3t-pass@llm.example.com/v1"
COOKIES = "csrftoken=CSRFSECRETVALUE; sessionid=SESSIONSECRET"
SECRETS = ("s3cr3t-pass", "hunter2", "CSRFSECRETVALUE", "SESSIONSECRET")
# (The debug page shows source lines around each frame: keep the secrets above out of
# reach of the lines below.)
#
#
#


def debug_page(request: object) -> str:
    """Django's technical 500 page for an error raised here."""
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        return technical_500_response(request, *sys.exc_info()).content.decode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SECRET_URL, "https://********@llm.example.com/v1"),
        ("postgres://app:pw@db:5432/x", "postgres://********@db:5432/x"),
        ("redis://:token@cache:6379/0", "redis://********@cache:6379/0"),
        ("https://llm.example.com/v1 and mailto:a@b", "https://llm.example.com/v1 and mailto:a@b"),
    ],
)
def test_credentials_inside_urls_are_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_the_debug_page_shows_no_credentials_or_cookies(settings: Settings) -> None:
    settings.DEBUG = True
    settings.LLM_BASE_URL = SECRET_URL
    settings.OPENAI_BASE_URL = "http://bob:hunter2@127.0.0.1:8080/v1"
    request = RequestFactory().get("/chats/x/", HTTP_COOKIE=COOKIES)
    page = debug_page(request)
    for secret in SECRETS:
        assert secret not in page
    assert "llm.example.com" in page  # the setting is there, its credentials are not


def test_log_lines_and_tracebacks_are_masked() -> None:
    try:
        raise ConnectionError(f"cannot reach {SECRET_URL}")
    except ConnectionError:
        record = logging.LogRecord(
            "chat", logging.ERROR, __file__, 1, "calling %s", (SECRET_URL,), sys.exc_info()
        )
    assert RedactingLogFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "s3cr3t-pass" not in text
    assert "https://********@llm.example.com/v1" in text


def test_the_console_log_handler_redacts(settings: Settings) -> None:
    handler = settings.LOGGING["handlers"]["console"]
    assert "redact" in handler["filters"]
    assert settings.DEFAULT_EXCEPTION_REPORTER_FILTER.endswith("RedactingReporterFilter")
