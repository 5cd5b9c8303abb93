"""Character Card V2: every field round-trips, SillyTavern's PNGs read, bad cards refused."""

from __future__ import annotations

import base64
import copy
import io
import json
import struct
import tracemalloc
import zlib
from typing import Any

import pytest
from PIL import Image

from chat.ownership import Owner
from chat.services import chat_create
from personas.card_services import persona_export_card, persona_import_card
from personas.cards import PNG_SIGNATURE as PNG
from personas.cards import CardError, read_card
from personas.models import Persona
from personas.prompts import persona_system_text
from tests.fakes.cards import FULL_CARD, chunk, portrait, sillytavern_png

pytestmark = pytest.mark.django_db


def json_bytes(card: Any) -> bytes:
    return json.dumps(card, ensure_ascii=False).encode()


def test_every_v2_field_survives_import_then_json_export() -> None:
    persona = persona_import_card(raw=json_bytes(FULL_CARD))
    data = FULL_CARD["data"]
    assert persona.slug == "szeth-son-son-vallano"
    assert persona.name == data["name"]
    assert persona.greeting == data["first_mes"]
    assert persona.example_dialogue == data["mes_example"]
    for field in ("description", "personality", "scenario", "creator_notes", "system_prompt",
                  "post_history_instructions", "alternate_greetings", "tags", "creator",
                  "character_version"):  # fmt: skip
        assert getattr(persona, field) == data[field], field
    # SillyTavern's talkativeness (text in its cards) is the persona's own field now.
    extensions = dict(data["extensions"])
    assert persona.talkativeness == float(extensions.pop("talkativeness"))
    assert persona.extensions == extensions
    # The card's lorebook is the persona's own book, entry for entry.
    assert persona.own_lorebook is not None
    assert persona.own_lorebook.name == data["character_book"]["name"]
    entry = persona.own_lorebook.entries.get()
    assert (entry.keys, entry.content) == (["Honorblade"], "One of ten.")

    name, exported = persona_export_card(
        persona=Persona.objects.get(pk=persona.pk), card_format="json"
    )
    assert name == "szeth-son-son-vallano.json"
    document = json.loads(exported)  # written as V3, every V2 field as it came
    assert (document["spec"], document["spec_version"]) == ("chara_card_v3", "3.0")
    assert {k: v for k, v in document.items() if k not in ("spec", "spec_version", "data")} == {
        k: v for k, v in FULL_CARD.items() if k not in ("spec", "spec_version", "data")
    }  # unknown top-level fields included
    exported_extensions = document["data"]["extensions"]
    assert exported_extensions.pop("stormchat") == {
        "sampling": {"temperature": 0.8, "top_p": 0.95, "max_tokens": 512}
    }  # the persona's sampling, beside the card's own extensions
    assert {k: document["data"][k] for k in data} == data  # unknown data fields included
    main_icon = {"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}
    assert document["data"]["assets"] == [main_icon]
    assert isinstance(document["data"]["modification_date"], int)


def test_a_sillytavern_png_card_imports_with_its_portrait_and_exports_as_png() -> None:
    persona = persona_import_card(raw=sillytavern_png(FULL_CARD))
    assert persona.name == "Szeth-son-son-Vallano"
    assert persona.description.endswith("✦")  # UTF-8 inside base64 inside tEXt
    assert persona.avatar.name.endswith(".png")

    name, png = persona_export_card(persona=persona, card_format="png")
    assert name.endswith(".png")
    assert png.startswith(b"\x89PNG")
    again = read_card(png)  # the ccv3 chunk, preferred over the chara backfill
    original = read_card(json_bytes(FULL_CARD)).data
    again.data["extensions"].pop("stormchat")
    assert {k: again.data[k] for k in FULL_CARD["data"] if k in original} == {
        k: original[k] for k in FULL_CARD["data"] if k in original
    }
    assert again.extra_top == {"x_unknown_top_field": "survives"}
    assert again.image is not None
    backfill = json.loads(base64.b64decode(Image.open(io.BytesIO(png)).text["chara"]))
    assert backfill["spec"] == "chara_card_v2"
    assert backfill["data"]["creator_notes"].startswith("This character card is Character Card V3")


def test_a_stormlight_persona_exports_and_reimports_as_a_copy(kaladin: Persona) -> None:
    _, png = persona_export_card(persona=kaladin, card_format="png")
    copy_of = persona_import_card(raw=png)
    assert copy_of.slug == "kaladin-2"
    assert persona_system_text(copy_of) == persona_system_text(kaladin)
    assert copy_of.greeting == kaladin.greeting


def test_a_v1_card_is_upgraded() -> None:
    v1 = {"name": "Lopen", "description": "One-armed Herdazian.", "personality": "Cheerful",
          "scenario": "", "first_mes": "Gancho!", "mes_example": "", "avatar": "none"}  # fmt: skip
    persona = persona_import_card(raw=json_bytes(v1))
    assert (persona.name, persona.greeting, persona.personality) == ("Lopen", "Gancho!", "Cheerful")
    assert persona.alternate_greetings == []
    _, exported = persona_export_card(persona=persona, card_format="json")
    document = json.loads(exported)
    assert document["spec"] == "chara_card_v3"
    assert document["data"]["avatar"] == "none"  # an unknown V1 field survives


def test_macros_fill_in_the_persona_and_the_person(alice: Any) -> None:
    persona = persona_import_card(raw=json_bytes(FULL_CARD))
    text = persona_system_text(persona, user="alice")
    assert "Szeth-son-son-Vallano is the Assassin in White" in text
    assert "alice has found Szeth-son-son-Vallano" in text
    chat = chat_create(owner=Owner(user_id=alice.pk), persona=persona)
    greeting = chat.messages.get().content
    assert (
        greeting == "*Szeth-son-son-Vallano lowers his Shardblade.* You should not be here, alice."
    )


def broken_crc() -> bytes:
    png = bytearray(sillytavern_png(FULL_CARD))
    at = png.index(b"tEXtchara") + 20
    png[at] ^= 0x01  # one bit of the card payload, so its chunk's CRC no longer matches
    return bytes(png)


def huge_png(width: int, height: int) -> bytes:
    """A PNG whose header declares this size (its pixels are a few bytes of zlib)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width * 3 + 1) * 64)  # a little real data
    return PNG + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def wrong_spec() -> bytes:
    card = copy.deepcopy(FULL_CARD)
    card["spec"] = "chara_card_v9"
    return json_bytes(card)


BAD_CARDS = {
    "bad crc": (broken_crc, "damaged"),
    "missing chunk": (portrait, "no character card"),
    "other keyword": (lambda: sillytavern_png(FULL_CARD, keyword=b"comment"), "no character card"),
    "invalid base64": (lambda: sillytavern_png(None, payload=b"not*base64!"), "base64"),
    "invalid json in png": (
        lambda: sillytavern_png(None, payload=base64.b64encode(b"{broken")),
        "not valid JSON",
    ),
    "invalid json": (lambda: b'{"spec": "chara_card_v2", "data": {', "not valid JSON"),
    "wrong spec": (wrong_spec, "Unsupported card spec"),
    "not a card": (lambda: b'{"hello": "world"}', "not a character card"),
    "no name": (lambda: json_bytes({"spec": "chara_card_v2", "data": {"name": " "}}), "no name"),
    "wrong types": (
        lambda: json_bytes({"spec": "chara_card_v2", "data": {"name": "x", "tags": "a,b"}}),
        "list of texts",
    ),
    "truncated png": (lambda: sillytavern_png(FULL_CARD)[:200], "damaged"),
    "not utf-8": (lambda: b"\xff\xfe\x00garbage", "neither a PNG nor UTF-8"),
    "empty": (lambda: b"", "empty"),
    "50 MB": (lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * (50 * 1024 * 1024), "limited to"),
    # A 116 KB PNG declaring 6300 x 6300 pixels: refused from its header, never decoded.
    "huge dimensions": (lambda: huge_png(6300, 6300), "6300 x 6300 pixels"),
    # Text chunks past the cap are refused while Pillow reads them.
    "14.6 MB text chunk": (
        lambda: sillytavern_png(None, payload=b"A" * 14_600_000),
        "larger than 8 MB",
    ),
    "8.5 MB json": (
        lambda: json_bytes({**FULL_CARD, "data": {**FULL_CARD["data"], "x": "a" * 8_900_000}}),
        "limited to 8 MB",
    ),
    "5,000-character creator": (
        lambda: json_bytes({**FULL_CARD, "data": {**FULL_CARD["data"], "creator": "c" * 5000}}),
        "'creator' is 5,000 characters; at most 200 fit",
    ),
    "bomb chunk": (
        lambda: (
            portrait()[:33] + chunk(b"tEXt", b"chara\x00" + b"A" * 20_000_000) + portrait()[33:]
        ),
        "limited to",
    ),
}


@pytest.mark.parametrize("case", BAD_CARDS, ids=list(BAD_CARDS))
def test_bad_cards_are_refused_clearly_and_change_nothing(case: str, kaladin: Persona) -> None:
    make, message = BAD_CARDS[case]
    before = Persona.objects.count()
    with pytest.raises(CardError, match=message):
        persona_import_card(raw=make())
    assert Persona.objects.count() == before


@pytest.mark.parametrize("case", ["14.6 MB text chunk", "huge dimensions", "8.5 MB json"])
def test_refusing_an_oversized_card_costs_little_memory(case: str) -> None:
    """Before, the 14.6 MB chunk added 150 MB and the 6300 x 6300 PNG 303 MB."""
    raw = BAD_CARDS[case][0]()
    tracemalloc.start()
    try:
        with pytest.raises(CardError):
            read_card(raw)
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * len(raw) + 8 * 1024 * 1024
