"""Books as files: CCv3 lorebook_v3 and SillyTavern World Info, read and written back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from personas.lore import decorators
from personas.lore.formats import LorebookFormatError
from personas.lore.services import (
    lorebook_document,
    lorebook_export_file,
    lorebook_import_file,
    lorebook_read_file,
)
from personas.models import LoreEntry

pytestmark = pytest.mark.django_db

CCV3: dict[str, Any] = {
    "spec": "lorebook_v3",
    "x_app": {"kept": True},
    "data": {
        "name": "Roshar",
        "description": "Places and powers",
        "scan_depth": 6,
        "token_budget": 700,
        "recursive_scanning": True,
        "extensions": {"risu": {"fullWordMatching": True}},
        "unknown_book_field": [1, 2],
        "entries": [
            {
                "keys": ["Urithiru"],
                "content": "@@depth 3\nThe tower city.",
                "extensions": {"vendor": "x"},
                "enabled": True,
                "insertion_order": 10,
                "use_regex": False,
                "case_sensitive": False,
                "constant": False,
                "name": "Urithiru",
                "priority": 4,
                "id": 7,
                "comment": "",
                "selective": True,
                "secondary_keys": ["tower"],
                "position": "after_char",
                "mystery": {"nested": "value"},
            },
            {
                "keys": ["Moash"],
                "content": "@@x_reveal words-of-radiance\n@@@dont_activate\nHe betrays Kaladin.",
                "extensions": {"stormchat": {"reveal": "words-of-radiance"}},
                "enabled": True,
                "insertion_order": 20,
                "use_regex": False,
            },
        ],
    },
}

WORLD_INFO: dict[str, Any] = {
    "name": "Shardplate",
    "originalData": {"kept": "as is"},
    "entries": {
        "0": {"uid": 0, "key": ["Shardplate"], "keysecondary": ["glow"], "comment": "Plate",
              "content": "Armour of the Knights Radiant.", "constant": False, "selective": True,
              "selectiveLogic": 3, "order": 100, "position": 4, "disable": False, "depth": 2,
              "role": 1, "probability": 50, "useProbability": True, "caseSensitive": None,
              "matchWholeWords": None, "sticky": 2, "cooldown": 1, "delay": 3,
              "group": "armour", "vectorized": False, "displayIndex": 0},
        "5": {"uid": 5, "key": ["Plate"], "keysecondary": [], "comment": "", "content": "x",
              "constant": True, "selective": False, "order": 1, "position": 6,
              "disable": True},
    },
}  # fmt: skip


def as_file(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def test_a_ccv3_lorebook_round_trips_unchanged_with_the_fields_stormchat_ignores() -> None:
    book = lorebook_import_file(as_file(CCV3))
    first, spoiler = book.entries.order_by("pk")
    assert (book.name, book.scan_depth, book.token_budget) == ("Roshar", 6, 700)
    assert book.recursive_scanning is True
    assert (first.position, first.priority, first.secondary_keys) == ("after_char", 4, ["tower"])
    assert spoiler.reveal == "words-of-radiance"
    assert spoiler.content == "He betrays Kaladin."  # the reveal is a field, not text

    assert json.loads(lorebook_export_file(book, "ccv3")) == CCV3


def test_world_info_round_trips_unchanged_and_maps_sillytavern_fields() -> None:
    book = lorebook_import_file(as_file(WORLD_INFO))
    plate, other = book.entries.order_by("pk")
    assert plate.selective_logic == LoreEntry.Logic.AND_ALL
    assert (plate.position, plate.depth, plate.role) == ("at_depth", 2, "user")
    assert (plate.probability, plate.sticky, plate.cooldown, plate.delay) == (50, 2, 1, 3)
    assert (other.constant, other.enabled) == (True, False)

    assert lorebook_document(book, "st") == WORLD_INFO


def test_an_edit_is_written_and_the_rest_stays_as_it_came() -> None:
    book = lorebook_import_file(as_file(WORLD_INFO))
    plate = book.entries.order_by("pk").first()
    assert plate is not None
    plate.keys = ["Shardplate", "Plate"]
    plate.reveal = "oathbringer"
    plate.save()

    written = lorebook_document(book, "st")["entries"]["0"]
    assert written["key"] == ["Shardplate", "Plate"]
    assert written["group"] == "armour"
    assert written["caseSensitive"] is None  # unchanged, so left as SillyTavern wrote it
    parsed = decorators.parse(written["content"])
    assert parsed.values == {"x_reveal": "oathbringer"}
    assert "@@@dont_activate" in written["content"]  # apps without x_reveal never fire it


def test_a_world_info_book_exports_as_ccv3_with_sillytavern_extensions() -> None:
    book = lorebook_import_file(as_file(WORLD_INFO))
    entry = lorebook_document(book, "ccv3")["data"]["entries"][0]
    assert entry["keys"] == ["Shardplate"]
    wanted = {"position": 4, "depth": 2, "role": 1, "selectiveLogic": 3, "sticky": 2}
    assert entry["extensions"].items() >= wanted.items()
    reread = lorebook_read_file(as_file(lorebook_document(book, "ccv3")))
    assert reread.entries[0]["position"] == "at_depth"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "neither a CCv3 lorebook"),
        (b'{"spec": "lorebook_v3", "data": {"entries": {}}}', "'entries' must be a list"),
        (b'{"entries": {"0": "text"}}', "entry 0 is not an object"),
        (b" " * (8 * 1024 * 1024 + 1), "at most"),
    ],
)
def test_broken_files_are_refused_with_a_reason_and_save_nothing(raw: bytes, message: str) -> None:
    with pytest.raises(LorebookFormatError, match=message):
        lorebook_import_file(raw)
    assert not LoreEntry.objects.exists()
