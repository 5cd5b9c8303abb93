from __future__ import annotations

import io
import zipfile

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from personas.cards import read_card
from personas.models import Persona
from tests.fakes.cards import FULL_CARD, sillytavern_png


@pytest.fixture
def staff_client(client: Client, staff: User) -> Client:
    client.force_login(staff)
    return client


@pytest.mark.django_db
def test_changelist_loads_with_search_and_filters(
    staff_client: Client, personas: list[Persona]
) -> None:
    url = reverse("admin:personas_persona_changelist")
    response = staff_client.get(url)
    assert response.status_code == 200
    assert b"Kaladin" in response.content
    searched = staff_client.get(url, {"q": "Hearthstone"})
    assert b"Kaladin" in searched.content
    assert b"Jasnah" not in searched.content
    filtered = staff_client.get(url, {"is_active__exact": "0"})
    assert filtered.status_code == 200
    assert b"Kaladin" not in filtered.content


@pytest.mark.django_db
def test_change_form_shows_the_prompt_preview(staff_client: Client, kaladin: Persona) -> None:
    response = staff_client.get(reverse("admin:personas_persona_change", args=[kaladin.pk]))
    assert response.status_code == 200
    assert b"What the model receives" in response.content
    assert b"Scenario:" in response.content


@pytest.mark.django_db
def test_persona_form_saves_every_field(staff_client: Client) -> None:
    data = {
        "name": "Lift",
        "slug": "lift",
        "epithet": "Edgedancer",
        "tagline": "Awesomeness.",
        "is_active": "on",
        "sort_order": "5",
        "system_prompt": "You are Lift.",
        "scenario": "Azimir palace kitchens.",
        "greeting": "Hey. You gonna eat that?",
        "example_dialogue": "{{user}}: Hi\n{{char}}: Pancakes?",
        "avatar_static": "avatars/default.svg",
        "accent_color": "#22c55e",
        "backend": "ollama",
        "model": "llama3.1:8b",
        "temperature": "1.1",
        "top_p": "0.9",
        "max_tokens": "300",
        "vision": "on",
        "voice": "af_heart",
        "voice_speed": "1.2",
        "voice_pitch": "1.3",
        "talkativeness": "0.8",
        "group_only_greetings": '["Oi, you lot. Who has food?"]',
    }
    response = staff_client.post(reverse("admin:personas_persona_add"), data)
    assert response.status_code == 302, response.content
    lift = Persona.objects.get(slug="lift")
    assert (lift.epithet, lift.backend, lift.model, lift.max_tokens) == (
        "Edgedancer",
        "ollama",
        "llama3.1:8b",
        300,
    )
    assert lift.temperature == pytest.approx(1.1)
    assert (lift.vision, lift.voice) == (True, "af_heart")
    assert (lift.voice_speed, lift.voice_pitch) == (pytest.approx(1.2), pytest.approx(1.3))
    assert lift.talkativeness == pytest.approx(0.8)
    assert lift.group_only_greetings == ["Oi, you lot. Who has food?"]


@pytest.mark.django_db
def test_persona_form_rejects_bad_values(staff_client: Client) -> None:
    data = {"name": "X", "slug": "x", "system_prompt": "p", "greeting": "g"}
    data |= {"accent_color": "red", "temperature": "3", "top_p": "0.5", "max_tokens": "10"}
    data |= {"sort_order": "1"}
    response = staff_client.post(reverse("admin:personas_persona_add"), data)
    assert response.status_code == 200
    assert not Persona.objects.filter(slug="x").exists()


@pytest.mark.django_db
def test_chat_admin_pages_load(staff_client: Client) -> None:
    for name in ("admin:chat_chat_changelist", "admin:chat_message_changelist"):
        assert staff_client.get(reverse(name)).status_code == 200


@pytest.mark.django_db
def test_non_staff_get_the_admin_login(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.get(reverse("admin:personas_persona_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


@pytest.mark.django_db
def test_staff_import_a_card_by_upload(staff: User) -> None:
    client = Client()
    client.force_login(staff)
    listing = client.get("/admin/personas/persona/").content.decode()
    assert "Import card" in listing
    upload = SimpleUploadedFile("szeth.png", sillytavern_png(FULL_CARD), "image/png")
    response = client.post("/admin/personas/persona/import-card/", {"card": upload})
    persona = Persona.objects.get(slug="szeth-son-son-vallano")
    assert response.status_code == 302
    assert response["Location"].endswith(f"/admin/personas/persona/{persona.pk}/change/")


@pytest.mark.django_db
def test_a_bad_upload_says_why_and_imports_nothing(staff: User) -> None:
    client = Client()
    client.force_login(staff)
    upload = SimpleUploadedFile("broken.json", b"{not json", "application/json")
    response = client.post("/admin/personas/persona/import-card/", {"card": upload})
    assert response.status_code == 400
    assert "not valid JSON" in response.content.decode()
    assert not Persona.objects.exists()


@pytest.mark.django_db
def test_export_as_card_action(staff: User, personas: list[Persona]) -> None:
    client = Client()
    client.force_login(staff)
    one = Persona.objects.get(slug="kaladin")
    single = client.post(
        "/admin/personas/persona/",
        {"action": "export_png_cards", "_selected_action": [one.pk]},
    )
    assert single["Content-Type"] == "image/png"
    assert read_card(single.content).name == "Kaladin"
    several = client.post(
        "/admin/personas/persona/",
        {"action": "export_json_cards", "_selected_action": [p.pk for p in personas]},
    )
    with zipfile.ZipFile(io.BytesIO(several.content)) as archive:
        names = archive.namelist()
    assert len(names) == len(personas)
    assert "kaladin.json" in names


@pytest.mark.django_db
def test_a_saved_personas_slug_never_changes(staff_client: Client, kaladin: Persona) -> None:
    page = staff_client.get(reverse("admin:personas_persona_change", args=[kaladin.pk]))
    assert page.status_code == 200
    assert 'name="slug"' not in page.content.decode()  # shown, not editable
    assert 'name="slug"' in staff_client.get(reverse("admin:personas_persona_add")).content.decode()
