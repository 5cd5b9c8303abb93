"""Every query parameter and form field of every view, fuzzed: a 4xx with a reason, never
a 500. The anonymous requests that returned 500 before are pinned here too."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat import actions
from chat.models import Chat
from chat.ownership import Owner
from personas.models import Persona

pytestmark = pytest.mark.django_db

values = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["", "²", "٣", "1e9", "-1", "0", "9" * 5000, "%00", "NaN", " 7", "0x10"]),
)


@pytest.fixture
def visitor(kaladin: Persona) -> tuple[Client, Chat]:
    client = Client()
    client.get("/")
    client.post("/chats/new/", {"persona": "kaladin"})
    owner = Owner(session_key=client.cookies["sessionid"].value)
    return client, actions.chat_create(owner=owner, persona=kaladin)


def gets(chat: Chat, value: str) -> list[str]:
    """Every GET route with this value in each of its parameters (and path numbers)."""
    v = quote(value, safe="")
    c = chat.pk
    return [
        f"/chats/{c}/older/?before={v}",
        f"/chats/list/?offset={v}&q={v}&current={v}",
        f"/api/chats/?offset={v}&limit={v}&q={v}",
        f"/api/chats/{c}/?before={v}&limit={v}",
        f"/api/chats/{c}/messages/{v or 'x'}/",
        f"/chats/{c}/messages/{v or 'x'}/",
        f"/chats/{v or 'x'}/",
        f"/api/chats/{v or 'x'}/",
        f"/?q={v}",
        f"/api/personas/?x={v}",
    ]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=values)
def test_no_query_parameter_makes_a_500(visitor: tuple[Client, Chat], value: str) -> None:
    client, chat = visitor
    for url in gets(chat, value):
        assert client.get(url).status_code < 500, url


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=values)
def test_no_form_field_makes_a_500(visitor: tuple[Client, Chat], value: str) -> None:
    client, chat = visitor
    posts = [
        (f"/chats/{chat.pk}/greeting/", {"index": value}),
        (f"/chats/{chat.pk}/rename/", {"title": value, "current": value}),
        ("/chats/new/", {"persona": value}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code < 500, url
    body = {"title": value, "greeting": value}
    response = client.patch(f"/api/chats/{chat.pk}/", body, content_type="application/json")
    assert response.status_code < 500


@pytest.mark.parametrize(
    "url",
    [
        "/api/chats/{chat}/?before=%C2%B2",
        "/api/chats/{chat}/?before=" + "9" * 5000,
        "/chats/{chat}/older/?before=%C2%B2",
        "/chats/list/?offset=99999999999999999999",
    ],
)
def test_the_requests_that_were_500s_are_400s(visitor: tuple[Client, Chat], url: str) -> None:
    client, chat = visitor
    response = client.get(url.format(chat=chat.pk))
    assert response.status_code == 400
    if url.startswith("/api/"):
        assert response.json()["error"]["code"] == "bad_request"
