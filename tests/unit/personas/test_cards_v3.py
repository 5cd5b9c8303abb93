"""Character Card V3: JSON, PNG with ccv3, CHARX with assets; and what is refused."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

from personas.card_services import persona_export_card, persona_import_card
from personas.cards import CardError, read_card
from personas.models import LoreEntry, Persona
from personas.prompts import persona_system_text
from tests.fakes.cards import FULL_CARD, portrait, sillytavern_png

pytestmark = pytest.mark.django_db


def v3(**data: Any) -> dict[str, Any]:
    base = {
        "name": "Lift", "nickname": "Lift the Awesome", "description": "{{char}} steals food.",
        "personality": "", "scenario": "", "first_mes": "Hi, I'm {{char}}.", "mes_example": "",
        "creator_notes": "Fun.", "system_prompt": "", "post_history_instructions": "",
        "alternate_greetings": [], "tags": ["reshi"], "creator": "me", "character_version": "1",
        "extensions": {}, "group_only_greetings": ["Hello, everyone!"],
        "creator_notes_multilingual": {"en": "Fun.", "fr": "Amusant."},
        "source": ["https://example.com/lift"], "creation_date": 1700000000,
        "modification_date": 1700000001,
    }  # fmt: skip
    return {"spec": "chara_card_v3", "spec_version": "3.0", "data": base | data}


def as_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def charx(document: dict[str, Any], files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("card.json", json.dumps(document))
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_a_v3_card_keeps_its_new_fields_and_the_nickname_is_char() -> None:
    persona = persona_import_card(raw=as_json(v3()))
    assert persona.nickname == "Lift the Awesome"
    assert "Lift the Awesome steals food." in persona_system_text(persona)
    assert persona.group_only_greetings == ["Hello, everyone!"]
    assert persona.creator_notes_multilingual == {"en": "Fun.", "fr": "Amusant."}
    assert (persona.creation_date, persona.source) == (1700000000, ["https://example.com/lift"])

    _, exported = persona_export_card(persona=persona, card_format="json")
    data = json.loads(exported)["data"]
    assert data["creation_date"] == 1700000000
    assert data["modification_date"] > 1700000001  # updated on export
    assert data["source"] == ["https://example.com/lift"]
    assert data["group_only_greetings"] == ["Hello, everyone!"]


def test_sillytavern_v2_data_labelled_v3_imports_leniently() -> None:
    relabelled = {**FULL_CARD, "spec": "chara_card_v3", "spec_version": "3.0"}
    book = relabelled["data"]["character_book"]
    assert all("use_regex" not in e for e in book["entries"])
    persona = persona_import_card(raw=as_json(relabelled))
    assert persona.group_only_greetings == []
    assert persona.own_lorebook is not None


def test_a_png_with_both_chunks_is_read_from_ccv3() -> None:
    png = sillytavern_png(v3(name="From ccv3"), keyword=b"ccv3")
    with Image.open(io.BytesIO(png)) as image:
        out = io.BytesIO()
        info = PngImagePlugin.PngInfo()
        info.add_text("ccv3", image.text["ccv3"])
        info.add_text("chara", base64.b64encode(json.dumps(FULL_CARD).encode()).decode())
        image.save(out, "PNG", pnginfo=info)
    assert read_card(out.getvalue()).name == "From ccv3"


def test_a_charx_brings_its_icon_and_assets_and_exports_them_again() -> None:
    icon, happy = portrait(), portrait()
    main_uri, happy_uri = "assets/icon/images/main.png", "assets/emotion/images/happy.png"
    document = v3(assets=[
        {"type": "icon", "uri": f"embeded://{main_uri}", "name": "main", "ext": "png"},
        {"type": "emotion", "uri": f"embeded://{happy_uri}", "name": "happy", "ext": "png"},
        {"type": "background", "uri": "https://example.com/bg.png", "name": "main", "ext": "png"},
    ])  # fmt: skip
    persona = persona_import_card(raw=charx(document, {
        "assets/icon/images/main.png": icon, "assets/emotion/images/happy.png": happy,
    }))  # fmt: skip
    assert persona.avatar
    kept = {(a.type, a.name): a for a in persona.assets.all()}
    assert kept[("emotion", "happy")].file.read() == happy
    assert kept[("background", "main")].uri == "https://example.com/bg.png"

    name, archive = persona_export_card(persona=persona, card_format="charx")
    assert name.endswith(".charx")
    again = persona_import_card(raw=archive)
    kept_again = {(a.type, a.name): a for a in again.assets.all()}
    assert kept_again[("emotion", "happy")].file.read() == happy
    assert kept_again[("background", "main")].uri == "https://example.com/bg.png"
    assert again.nickname == "Lift the Awesome"


def bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("card.json", json.dumps(v3()))
        archive.writestr("assets/other/other/zeros.bin", b"\0" * (20 * 1024 * 1024))
    return out.getvalue()


def traversal() -> bytes:
    return charx(v3(), {"../../etc/evil.png": b"x"})


def many() -> bytes:
    return charx(v3(), {f"assets/other/other/{i}.bin": b"x" for i in range(600)})


def missing_asset() -> bytes:
    asset = {"type": "emotion", "uri": "embeded://assets/x.png", "name": "x", "ext": "png"}
    return charx(v3(assets=[asset]), {})


def no_card() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hi")
    return out.getvalue()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (bomb, "zip bomb"),
        (traversal, "outside itself"),
        (many, "at most 500"),
        (missing_asset, "not in the CHARX"),
        (no_card, "no card.json"),
        (lambda: b"PK\x03\x04 broken", "not a valid zip"),
    ],
)
def test_a_bad_charx_is_refused_with_the_reason_and_nothing_changes(make: Any, reason: str) -> None:
    before = Persona.objects.count()
    with pytest.raises(CardError, match=reason):
        persona_import_card(raw=make())
    assert Persona.objects.count() == before


def test_a_reveal_point_travels_in_the_card_and_the_v2_backfill_never_fires_it() -> None:
    persona = persona_import_card(raw=as_json(v3(character_book={"name": "Lift", "entries": [
        {"keys": ["Wyndle"], "content": "Her spren.", "enabled": True, "insertion_order": 1,
         "use_regex": False, "extensions": {}},
    ]})))  # fmt: skip
    entry = LoreEntry.objects.get(book=persona.own_lorebook)
    entry.reveal = "edgedancer"
    entry.save()

    _, png = persona_export_card(persona=persona, card_format="png")
    with Image.open(io.BytesIO(png)) as image:
        v3_doc = json.loads(base64.b64decode(image.text["ccv3"]))
        v2_doc = json.loads(base64.b64decode(image.text["chara"]))
    written = v3_doc["data"]["character_book"]["entries"][0]
    assert written["extensions"]["stormchat"]["reveal"] == "edgedancer"
    assert written["content"].startswith("@@x_reveal edgedancer\n@@@dont_activate\n")
    backfilled = v2_doc["data"]["character_book"]["entries"][0]
    assert backfilled["enabled"] is False
    assert backfilled["content"] == "Her spren."
