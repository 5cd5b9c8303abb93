"""Whether sockets' sessions are still good, asked for many sockets at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat.sessions import SessionCheck, session_is_current, sessions_are_current

pytestmark = pytest.mark.django_db


def logged_in(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def visitor() -> str:
    store = SessionStore()
    store.create()
    assert store.session_key is not None
    return store.session_key


def test_many_checks_agree_with_one_at_a_time_in_two_queries(alice: User) -> None:
    bob = User.objects.create_user("bob", password="a different horse")
    alice_key, bob_key, visitor_key = logged_in(alice), logged_in(bob), visitor()
    logged_out = logged_in(alice)
    Session.objects.filter(session_key=logged_out).delete()
    expired = logged_in(bob)
    Session.objects.filter(session_key=expired).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    checks = [
        SessionCheck(alice_key, alice.pk),  # good
        SessionCheck(bob_key, bob.pk),  # good
        SessionCheck(visitor_key, None),  # a visitor's session
        SessionCheck(alice_key, bob.pk),  # someone else's session
        SessionCheck(logged_out, alice.pk),  # logged out
        SessionCheck(expired, bob.pk),  # expired
        SessionCheck("no-such-session", None),
        SessionCheck(None, None),
    ]

    with CaptureQueriesContext(connection) as queries:
        many = sessions_are_current(checks)

    assert many == [True, True, True, False, False, False, False, False]
    assert many == [session_is_current(c.session_key, c.user_id) for c in checks]
    assert len(queries) == 2  # the sessions, then their users


def test_a_password_change_or_a_deactivation_ends_the_users_sessions(alice: User) -> None:
    bob = User.objects.create_user("bob", password="a different horse")
    alice_key, bob_key = logged_in(alice), logged_in(bob)
    alice.set_password("a new stormlight oath")
    alice.save()
    bob.is_active = False
    bob.save()

    assert sessions_are_current([SessionCheck(alice_key, alice.pk)]) == [False]
    assert sessions_are_current([SessionCheck(bob_key, bob.pk)]) == [False]


def test_other_session_engines_are_asked_about_each_socket(alice: User, settings: Any) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    key = logged_in(alice)

    assert sessions_are_current([SessionCheck(key, alice.pk), SessionCheck("gone", None)]) == [
        True,
        False,
    ]
