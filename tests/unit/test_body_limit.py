"""Request bodies over REQUEST_MAX_BYTES are refused before Django reads them."""

from __future__ import annotations

import pytest
from channels.testing import HttpCommunicator
from pytest_django.fixtures import Settings

from stormchat.application import build_application

pytestmark = pytest.mark.django_db(transaction=True)
application = build_application()


async def post(body: bytes, headers: list[tuple[bytes, bytes]]) -> dict[str, object]:
    communicator = HttpCommunicator(application, "POST", "/api/chats/", body=body, headers=headers)
    return await communicator.get_response(timeout=10)


async def test_a_declared_length_over_the_cap_is_413_at_once(settings: Settings) -> None:
    settings.REQUEST_MAX_BYTES = 1000
    response = await post(b"x" * 10, [(b"content-length", b"5000000")])
    assert response["status"] == 413
    assert b'"too_large"' in response["body"]  # type: ignore[operator]


async def test_a_body_without_a_length_is_cut_off_past_the_cap(settings: Settings) -> None:
    settings.REQUEST_MAX_BYTES = 1000
    response = await post(b"x" * 5000, [(b"content-type", b"application/json")])
    assert response["status"] == 413


async def test_a_body_within_the_cap_reaches_the_site(settings: Settings) -> None:
    settings.REQUEST_MAX_BYTES = 1000
    response = await post(b"{}", [(b"content-type", b"application/json")])
    assert response["status"] != 413
