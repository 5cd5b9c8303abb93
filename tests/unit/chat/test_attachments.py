"""Attachments through the API: pictures re-encoded, text files kept, everything else
refused, and each file served to its chat's owner only."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from pytest_django.fixtures import Settings

from chat.models import Attachment

# Uploads go through channels' database_sync_to_async, which closes a connection that is
# inside a test's transaction on PostgreSQL: these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)


def new_chat(client: Client) -> str:
    response = client.post(
        "/api/chats/", json.dumps({"persona": "kaladin"}), content_type="application/json"
    )
    assert response.status_code == 201
    return str(response.json()["id"])


def picture(size: tuple[int, int] = (64, 48), fmt: str = "JPEG", **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(out, fmt, **save)
    return out.getvalue()


def upload(client: Client, chat_id: str, name: str, data: bytes) -> object:
    return client.post(
        f"/api/chats/{chat_id}/attachments/", {"file": SimpleUploadedFile(name, data)}
    )


@pytest.fixture
def chat_id(client: Client, personas: list) -> str:
    return new_chat(client)


def test_a_picture_is_re_encoded_without_its_exif_and_thumbnailed(
    client: Client, chat_id: str
) -> None:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0112] = 6  # Orientation: turned a quarter: stored upright afterwards
    response = upload(client, chat_id, "holiday.jpeg", picture((80, 40), exif=exif.tobytes()))
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) >= {"id", "kind", "name", "size", "url"}
    assert (data["kind"], data["name"], data["width"], data["height"]) == (
        "image",
        "holiday.jpg",
        40,
        80,
    )
    stored = client.get(data["url"])
    assert stored["Content-Type"] == "image/jpeg"
    body = b"".join(stored.streaming_content)
    assert b"SecretCam" not in body
    assert not Image.open(io.BytesIO(body)).getexif()
    thumb = client.get(data["thumbnail_url"])
    assert thumb.status_code == 200
    assert max(Image.open(io.BytesIO(b"".join(thumb.streaming_content))).size) <= 320


def test_a_large_picture_is_scaled_to_image_max_side(
    client: Client, chat_id: str, settings: Settings
) -> None:
    settings.IMAGE_MAX_SIDE = 300
    data = upload(client, chat_id, "wide.png", picture((1200, 600), "PNG")).json()
    assert (data["width"], data["height"]) == (300, 150)


def test_a_polyglot_keeps_only_its_pixels(client: Client, chat_id: str) -> None:
    payload = b"<script>alert(1)</script>PK\x03\x04hidden-archive"
    data = upload(client, chat_id, "cat.png", picture(fmt="PNG") + payload).json()
    body = b"".join(client.get(data["url"]).streaming_content)
    assert b"<script>" not in body
    assert b"hidden-archive" not in body


def test_a_zip_bomb_named_png_is_refused_and_nothing_kept(client: Client, chat_id: str) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * 5_000_000)
    response = upload(client, chat_id, "photo.png", out.getvalue())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_file"
    assert not Attachment.objects.exists()


def test_a_picture_that_claims_too_many_pixels_is_refused(client: Client, chat_id: str) -> None:
    huge = picture((6000, 5000), "PNG", compress_level=9)  # 30 MP of one colour: tiny file
    response = upload(client, chat_id, "huge.png", huge)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_file"


def test_text_files_are_kept_for_the_prompt(client: Client, chat_id: str) -> None:
    data = upload(client, chat_id, "notes.md", b"# Plans\nFind the Oathgates.").json()
    assert (data["kind"], data["name"]) == ("text", "notes.md")
    stored = Attachment.objects.get(pk=data["id"])
    assert stored.text == "# Plans\nFind the Oathgates."
    download = client.get(data["url"])
    assert download["Content-Type"] == "text/markdown; charset=utf-8"
    assert download["Content-Disposition"].startswith("attachment")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("program.exe", b"MZ\x90\x00\x03"),
        ("notes.txt", b"\xff\xfe\x00b\x00i\x00n"),  # not UTF-8
        ("data.json", b"{not json"),
        ("script.html", b"<script>alert(1)</script>"),
        ("picture.png", b"just some text"),
    ],
)
def test_other_files_are_refused_with_a_clear_error(
    client: Client, chat_id: str, name: str, data: bytes
) -> None:
    response = upload(client, chat_id, name, data)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_file"
    assert not Attachment.objects.exists()


def test_path_tricks_in_names_are_dropped(client: Client, chat_id: str) -> None:
    data = upload(client, chat_id, "../../etc/pass\x00wd.txt", b"hello").json()
    assert data["name"] == "passwd.txt"
    stored = Attachment.objects.get(pk=data["id"])
    assert ".." not in stored.file.name
    assert stored.file.name.startswith(f"attachments/{chat_id}/")
    assert "passwd" not in stored.file.name  # stored under a random name


def test_an_oversize_upload_is_413_and_nothing_kept(
    client: Client, chat_id: str, settings: Settings
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 1000
    response = upload(client, chat_id, "big.txt", b"a" * 2000)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not Attachment.objects.exists()


def test_someone_elses_attachment_is_not_found(client: Client, chat_id: str) -> None:
    data = upload(client, chat_id, "notes.txt", b"private").json()
    stranger = Client()
    stranger_chat = new_chat(stranger)
    assert stranger.get(data["url"]).status_code == 404
    other_url = data["url"].replace(chat_id, stranger_chat)
    assert stranger.get(other_url).status_code == 404
    assert stranger.delete(other_url).status_code == 404
    assert Attachment.objects.filter(pk=data["id"]).exists()


def test_an_unsent_attachment_can_be_removed_and_its_files_go(
    client: Client, chat_id: str, django_capture_on_commit_callbacks: Any
) -> None:
    data = upload(client, chat_id, "cat.png", picture(fmt="PNG")).json()
    stored = Attachment.objects.get(pk=data["id"])
    storage, names = stored.file.storage, [stored.file.name, stored.thumbnail.name]
    assert all(storage.exists(name) for name in names)
    with django_capture_on_commit_callbacks(execute=True):  # files go once it commits
        assert client.delete(data["url"]).status_code == 204
    assert not Attachment.objects.exists()
    assert not any(storage.exists(name) for name in names)
    assert client.get(data["url"]).status_code == 404


def test_unsent_attachments_per_chat_are_capped(
    client: Client, chat_id: str, settings: Settings
) -> None:
    settings.ATTACHMENTS_UNSENT_PER_CHAT = 2
    for index in range(2):
        assert upload(client, chat_id, f"{index}.txt", b"x").status_code == 201
    response = upload(client, chat_id, "third.txt", b"x")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_attachments"


def test_uploads_are_rate_limited(client: Client, chat_id: str, settings: Settings) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "uploads": (2, 60)}
    for _ in range(2):
        assert upload(client, chat_id, "a.txt", b"x").status_code == 201
    response = upload(client, chat_id, "a.txt", b"x")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"


def test_an_upload_without_a_file_field_says_how(client: Client, chat_id: str) -> None:
    response = client.post(f"/api/chats/{chat_id}/attachments/", {"other": "x"})
    assert response.status_code == 400
    assert "multipart" in response.json()["error"]["message"]


def test_deleting_the_chat_deletes_its_files(
    client: Client, chat_id: str, django_capture_on_commit_callbacks: Any
) -> None:
    data = upload(client, chat_id, "cat.png", picture(fmt="PNG")).json()
    stored = Attachment.objects.get(pk=data["id"])
    storage, names = stored.file.storage, [stored.file.name, stored.thumbnail.name]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(f"/api/chats/{chat_id}/")
    assert response.status_code in (200, 204)
    assert not Attachment.objects.exists()
    assert not any(storage.exists(name) for name in names)
