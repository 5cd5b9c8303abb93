"""User personas: the JSON API, the "Who you play" page, ownership and bad pictures."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from chat.models import Chat, UserPersona
from stormchat.images import MAX_UPLOAD_BYTES

pytestmark = pytest.mark.django_db


def png(size: tuple[int, int] = (64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (40, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def create(client: Client, **fields: object) -> dict:
    response = client.post(
        "/api/user-personas/", json.dumps(fields), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_create_list_change_and_delete_through_the_api(client: Client) -> None:
    lopen = create(client, name="Lopen", description="A one-armed Herdazian.")
    assert lopen | {"id": 0} == {
        "id": 0,
        "name": "Lopen",
        "description": "A one-armed Herdazian.",
        "is_default": False,
        "avatar_url": "",
    }
    listed = client.get("/api/user-personas/").json()["user_personas"]
    assert [p["name"] for p in listed] == ["Lopen"]

    url = f"/api/user-personas/{lopen['id']}/"
    changed = client.patch(
        url, json.dumps({"name": "Lopen the Second", "is_default": True}), "application/json"
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["name"], changed.json()["is_default"]) == ("Lopen the Second", True)

    assert client.delete(url).status_code == 200
    assert client.get("/api/user-personas/").json()["user_personas"] == []


def test_one_default_at_a_time(client: Client) -> None:
    first = create(client, name="Lopen", is_default=True)
    second = create(client, name="Rock", is_default=True)
    listed = {p["id"]: p["is_default"] for p in client.get("/api/user-personas/").json()[
        "user_personas"
    ]}  # fmt: skip
    assert listed == {first["id"]: False, second["id"]: True}


def test_someone_elses_persona_is_not_found_and_stays(client: Client) -> None:
    theirs = create(client, name="Lopen")
    stranger = Client()
    url = f"/api/user-personas/{theirs['id']}/"
    patched = stranger.patch(url, json.dumps({"name": "Mine now"}), "application/json")
    assert patched.status_code == 404
    assert patched.json()["error"]["code"] == "not_found"
    assert stranger.delete(url).status_code == 404
    assert stranger.get(f"{url}avatar/").status_code == 404
    assert UserPersona.objects.get(pk=theirs["id"]).name == "Lopen"


@pytest.mark.parametrize(
    "body",
    [{}, {"name": " "}, {"name": "Lopen", "description": "x" * 4001}, {"name": ["Lopen"]}],
    ids=["no name", "blank name", "long description", "not text"],
)
def test_bad_fields_are_a_clear_400(client: Client, body: dict) -> None:
    response = client.post("/api/user-personas/", json.dumps(body), "application/json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"]
    assert not UserPersona.objects.exists()


def test_a_long_name_is_cut_to_fit(client: Client) -> None:
    assert create(client, name="Lopen " * 40)["name"] == ("Lopen " * 40)[:100]


def test_an_avatar_is_stored_as_a_png_and_served_to_its_owner(client: Client) -> None:
    upload = SimpleUploadedFile("me.png", png((600, 300)), "image/png")
    response = client.post("/api/user-personas/", {"name": "Lopen", "avatar": upload})
    assert response.status_code == 201, response.content
    avatar_url = response.json()["avatar_url"]
    assert avatar_url
    served = client.get(avatar_url)
    assert served.status_code == 200
    picture = Image.open(io.BytesIO(b"".join(served.streaming_content)))
    assert picture.format == "PNG"
    assert max(picture.size) <= 256


@pytest.mark.parametrize(
    "raw", [b"not a picture at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 64], ids=["text", "truncated"]
)
def test_a_broken_avatar_is_refused_and_nothing_is_saved(client: Client, raw: bytes) -> None:
    upload = SimpleUploadedFile("me.png", raw, "image/png")
    response = client.post("/api/user-personas/", {"name": "Lopen", "avatar": upload})
    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"]
    assert not UserPersona.objects.exists()


def test_an_oversize_avatar_is_refused(client: Client) -> None:
    upload = SimpleUploadedFile("big.png", b"\0" * (MAX_UPLOAD_BYTES + 1), "image/png")
    response = client.post("/api/user-personas/", {"name": "Lopen", "avatar": upload})
    assert response.status_code == 400
    assert "MB" in response.json()["error"]["message"]


def test_the_page_creates_edits_and_deletes(client: Client) -> None:
    page = client.get("/you/personas/")
    assert page.status_code == 200
    assert "None yet" in page.content.decode()
    created = client.post("/you/personas/", {"name": "Lopen", "description": "Gancho."})
    assert created.status_code == 302
    played = UserPersona.objects.get()
    client.post(
        "/you/personas/",
        {"update": played.pk, "name": "Lopen", "description": "Windrunner.", "is_default": "on"},
    )
    played.refresh_from_db()
    assert (played.description, played.is_default) == ("Windrunner.", True)
    shown = client.get("/you/personas/").content.decode()
    assert "Windrunner." in shown
    assert "default" in shown
    client.post("/you/personas/", {"delete": played.pk})
    assert not UserPersona.objects.exists()


def test_the_page_shows_a_clear_error_for_someone_elses_id(client: Client) -> None:
    theirs = create(client, name="Lopen")
    page = Client().post("/you/personas/", {"update": theirs["id"], "name": "Mine"})
    assert page.status_code == 200
    assert "No such user persona." in page.content.decode()
    assert UserPersona.objects.get().name == "Lopen"


def test_deleting_a_persona_in_use_gives_its_chats_back_to_you(
    client: Client, personas: list
) -> None:
    lopen = create(client, name="Lopen")
    chat = client.post("/api/chats/", json.dumps({"persona": "kaladin"}), "application/json")
    chat_id = chat.json()["id"]
    choose = json.dumps({"user_persona": lopen["id"]})
    client.patch(f"/api/chats/{chat_id}/", choose, "application/json")
    assert Chat.objects.get(pk=chat_id).user_persona_id == lopen["id"]
    client.delete(f"/api/user-personas/{lopen['id']}/")
    assert Chat.objects.get(pk=chat_id).user_persona_id is None
