"""Accounts: sign up, log in and out, change password; anonymous chats follow the login."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from chat.models import Chat
from personas.models import Persona

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-pass-phrase-1234"


def anonymous_with_chats(count: int) -> Client:
    client = Client()
    client.get("/")
    for persona in ["kaladin", "shallan", "dalinar"][:count]:
        assert client.post("/chats/new/", {"persona": persona}).status_code == 302
    return client


def test_signing_up_logs_in_and_keeps_the_chats_made_so_far(personas: list[Persona]) -> None:
    client = anonymous_with_chats(2)
    response = client.post(
        "/accounts/signup/", {"username": "lopen", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    user = User.objects.get(username="lopen")
    assert Chat.objects.filter(user=user).count() == 2
    assert not Chat.objects.filter(user=None).exists()
    page = client.get("/").content.decode()
    assert "lopen" in page
    assert "Log out" in page


def test_logging_in_brings_the_anonymous_chats_to_the_account(personas: list[Persona]) -> None:
    user = User.objects.create_user("teft", password=PASSWORD)
    client = anonymous_with_chats(3)
    response = client.post("/accounts/login/", {"username": "teft", "password": PASSWORD})
    assert response.status_code == 302
    assert Chat.objects.filter(user=user).count() == 3
    # ...and on another device, after logging in there, they are listed.
    other = Client()
    other.post("/accounts/login/", {"username": "teft", "password": PASSWORD})
    assert len(other.get("/api/chats/").json()["chats"]) == 3


def test_a_bad_signup_explains_itself(personas: list[Persona]) -> None:
    response = Client().post(
        "/accounts/signup/", {"username": "x", "password1": "short", "password2": "other"}
    )
    assert response.status_code == 400
    assert "password fields didn" in response.content.decode()


def test_logout_and_password_change(personas: list[Persona]) -> None:
    User.objects.create_user("rock", password=PASSWORD)
    client = Client()
    client.post("/accounts/login/", {"username": "rock", "password": PASSWORD})
    new = "another-long-pass-phrase-5678"
    changed = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert changed.status_code == 302
    assert client.get(changed["Location"]).status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert "Log in" in client.get("/").content.decode()
    fresh = Client()
    assert fresh.post("/accounts/login/", {"username": "rock", "password": new}).status_code == 302


def test_only_staff_reach_the_admin(personas: list[Persona]) -> None:
    visitor, member, staff = Client(), Client(), Client()
    member.force_login(User.objects.create_user("moash", password=PASSWORD))
    staff.force_login(User.objects.create_user("sigzil", password=PASSWORD, is_staff=True))
    for client in (visitor, member):
        response = client.get("/admin/", follow=True)
        assert response.redirect_chain[-1][0].startswith("/admin/login/")
        assert "Log in" in response.content.decode()
    assert staff.get("/admin/").status_code == 200
