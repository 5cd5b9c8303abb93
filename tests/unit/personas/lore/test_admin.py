"""Staff edit lorebooks in the admin: inline entries, search, the test box, files."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from personas.models import Lorebook, LoreEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client: Client, staff: User) -> Client:
    client.force_login(staff)
    return client


@pytest.fixture
def roshar() -> Lorebook:
    book = Lorebook.objects.create(name="Roshar", token_budget=500)
    LoreEntry.objects.create(book=book, name="Urithiru", keys=["tower"], content="The tower.")
    LoreEntry.objects.create(
        book=book, name="Moash", keys=["Moash"], content="He betrays.", reveal="oathbringer"
    )
    LoreEntry.objects.create(book=book, name="Plains", keys=["plains"], content="Shattered.")
    return fresh(book)


def fresh(book: Lorebook) -> Lorebook:
    book.refresh_from_db()
    return book


def test_a_book_is_edited_with_its_entries_inline_and_each_edit_bumps_its_revision(
    staff_client: Client, roshar: Lorebook
) -> None:
    url = reverse("admin:personas_lorebook_change", args=[roshar.pk])
    page = staff_client.get(url)
    assert page.status_code == 200
    assert b"Urithiru" in page.content
    assert b"Test box" in page.content
    before = roshar.revision
    entry = roshar.entries.get(name="Plains")
    entry.content = "The Shattered Plains."
    entry.save()
    assert fresh(roshar).revision > before


def test_entries_are_searchable_by_key_and_text(staff_client: Client, roshar: Lorebook) -> None:
    url = reverse("admin:personas_loreentry_changelist")
    by_key = staff_client.get(url, {"q": "tower"})
    assert b"Urithiru" in by_key.content
    assert b"Plains" not in by_key.content
    by_text = staff_client.get(url, {"q": "Shattered"})
    assert b"Plains" in by_text.content
    assert b"Urithiru" not in by_text.content


def test_the_test_box_says_which_entries_fire_and_why(
    staff_client: Client, roshar: Lorebook
) -> None:
    url = reverse("admin:personas_lorebook_test", args=[roshar.pk])
    assert staff_client.get(url).status_code == 200
    response = staff_client.post(
        url, {"text": "Moash climbed the tower", "read_through": "the-way-of-kings"}
    )
    rows = {v.entry: v for v in response.context["verdicts"]}
    assert rows["Urithiru"].fired
    assert "“tower”" in rows["Urithiru"].reason
    assert not rows["Moash"].fired
    assert "spoiler until Oathbringer" in rows["Moash"].reason
    assert not rows["Plains"].fired
    assert rows["Plains"].reason == "no key in the text"
    later = staff_client.post(url, {"text": "Moash", "read_through": "oathbringer"})
    assert {v.entry for v in later.context["verdicts"] if v.fired} == {"Moash"}


def test_a_book_file_imports_and_exports(staff_client: Client) -> None:
    document = {"entries": {"3": {"uid": 3, "key": ["Syl"], "content": "An honorspren."}}}
    upload = SimpleUploadedFile("spren.json", json.dumps(document).encode())
    response = staff_client.post(reverse("admin:personas_lorebook_import"), {"book": upload})
    book = Lorebook.objects.get(name="spren")
    assert response.status_code == 302
    exported = staff_client.post(
        reverse("admin:personas_lorebook_changelist"),
        {"action": "export_world_info", "_selected_action": [book.pk]},
    )
    assert json.loads(exported.content)["entries"]["3"]["content"] == "An honorspren."


def test_a_broken_file_is_refused_with_the_reason(staff_client: Client) -> None:
    upload = SimpleUploadedFile("x.json", b"[1]")
    response = staff_client.post(reverse("admin:personas_lorebook_import"), {"book": upload})
    assert response.status_code == 400
    assert b"neither a CCv3 lorebook" in response.content
    assert not Lorebook.objects.exists()
