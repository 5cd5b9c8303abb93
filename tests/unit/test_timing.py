"""Every response says how long the server spent on it."""

from __future__ import annotations

import re

import pytest
from django.test import Client

SERVER_TIMING = re.compile(r'^app;dur=(\d+\.\d);desc="Django"$')


@pytest.mark.django_db
def test_pages_carry_a_server_timing_header(client: Client) -> None:
    response = client.get("/")

    match = SERVER_TIMING.match(response["Server-Timing"])
    assert match is not None
    assert float(match.group(1)) > 0


@pytest.mark.django_db
def test_errors_and_redirects_carry_it_too(client: Client) -> None:
    missing = client.get("/chats/00000000-0000-0000-0000-000000000000/")
    admin = client.get("/admin/")

    assert missing.status_code == 404
    assert admin.status_code == 302
    assert SERVER_TIMING.match(missing["Server-Timing"])
    assert SERVER_TIMING.match(admin["Server-Timing"])
