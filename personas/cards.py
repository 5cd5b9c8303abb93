"""Character cards: V3 (``chara_card_v3``), V2 (``chara_card_v2``) and V1.

A card is JSON, a PNG (or APNG) whose ``tEXt`` chunk ``ccv3`` (V3) or ``chara`` (V2) holds
the base64 of that JSON in UTF-8, the ``ccv3`` one preferred, or a CHARX zip
(``personas.charx``). Reading accepts V3 and V2 (leniently: SillyTavern writes V2 data
relabelled as V3, and V3 fields may be missing) and upgrades V1 (the bare fields, no
``spec``); anything else is refused with a ``CardError`` that says what is wrong. Pillow
reads and writes the PNG (and checks every chunk's CRC); nothing here parses PNG by hand.

Cards are written as V3, and a PNG also carries a V2 ``chara`` backfill for older apps.

Only conversion lives here; saving personas is ``personas.services``.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, PngImagePlugin, UnidentifiedImageError

from personas.lore import decorators
from stormchat.text import without_nul

SPEC = "chara_card_v2"
SPEC_VERSION = "2.0"
SPEC_V3 = "chara_card_v3"
SPEC_V3_VERSION = "3.0"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"
CHUNK_KEYWORD = "chara"
CHUNK_V3 = "ccv3"
BACKFILL_NOTE = (
    "This character card is Character Card V3, but it is loaded as a Character Card V2. "
    "Please use a Character Card V3 compatible application to use this character card "
    "properly."
)
# Real cards are portraits of a few MB at most; anything near this is refused unread.
MAX_CARD_BYTES = 16 * 1024 * 1024
# A portrait is at most about 2048 x 4096: decoding is width x height x 4 bytes, checked
# from the header before any pixel is decoded (a 116 KB PNG declaring 6300 x 6300 would
# decode to 150 MB).
MAX_IMAGE_PIXELS = 8_400_000
# The card's JSON (in a PNG's text chunks, or as a file): lorebooks make real ones a few
# MB at most. Pillow keeps every text chunk in memory, so the cap applies while it reads.
MAX_CARD_TEXT_BYTES = 8 * 1024 * 1024

TEXT_FIELDS = (
    "name", "description", "personality", "scenario", "first_mes", "mes_example",
    "creator_notes", "system_prompt", "post_history_instructions", "creator",
    "character_version",
)  # fmt: skip
LIST_FIELDS = ("alternate_greetings", "tags")
V3_FIELDS = ("nickname", "group_only_greetings", "creator_notes_multilingual", "source",
             "creation_date", "modification_date", "assets")  # fmt: skip
KNOWN_DATA_FIELDS = {*TEXT_FIELDS, *LIST_FIELDS, *V3_FIELDS, "extensions", "character_book"}
V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")


class CardError(ValueError):
    """A card that can't be read; the message says why, for the person who sent it."""


@dataclass
class Card:
    """A card's data, validated: every V2 field, plus whatever else it carried."""

    data: dict[str, Any]
    # Unknown top-level fields and unknown fields inside ``data``, kept for export.
    extra_top: dict[str, Any] = field(default_factory=dict)
    extra_data: dict[str, Any] = field(default_factory=dict)
    # The portrait, when the card came as a PNG (PNG bytes without the card chunk).
    image: bytes | None = None
    # The files a CHARX carried, by their path inside it (``embeded://`` URIs point here).
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The character's name."""
        return str(self.data["name"])


def read_card(raw: bytes) -> Card:
    """A card from JSON or PNG bytes; CardError if it is broken, oversized or not a card."""
    if raw.startswith(ZIP_SIGNATURE):
        from personas.charx import read_charx  # a CHARX reads its card.json through here

        return read_charx(raw)
    if len(raw) > MAX_CARD_BYTES:
        raise CardError(
            f"The file is {len(raw) / 1024 / 1024:.1f} MB; cards are limited to "
            f"{MAX_CARD_BYTES // 1024 // 1024} MB."
        )
    if raw.startswith(PNG_SIGNATURE):
        text, image = _png_card_text(raw)
        return card_from_json(text, image=image)
    if not raw.strip():
        raise CardError("The file is empty.")
    if len(raw) > MAX_CARD_TEXT_BYTES:
        raise CardError(
            f"The card's JSON is {len(raw) / 1024 / 1024:.1f} MB; cards are limited to "
            f"{MAX_CARD_TEXT_BYTES // 1024 // 1024} MB of text."
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CardError("The file is neither a PNG nor UTF-8 JSON.") from None
    return card_from_json(text)


def _png_card_text(raw: bytes) -> tuple[str, bytes]:
    """The card JSON from a PNG's ``chara`` chunk, and the image re-encoded without it."""
    with warnings.catch_warnings(), _text_memory(MAX_CARD_TEXT_BYTES):
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(raw)) as probe:
                _check_size(probe)  # from the header, before anything is decoded
                probe.verify()  # every chunk's CRC, and the structure
            with Image.open(io.BytesIO(raw)) as image:
                image.load()  # the card chunk usually follows the image data
                chunks = dict(getattr(image, "text", {}))
                portrait = png_bytes(image)
        except CardError:
            raise
        except (
            SyntaxError,
            OSError,
            ValueError,
            UnidentifiedImageError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
        ) as error:
            if "text chunks" in str(error):  # Pillow's cap on text memory
                limit = MAX_CARD_TEXT_BYTES // 1024 // 1024
                raise CardError(f"The card's text is larger than {limit} MB.") from None
            raise CardError(f"The PNG is damaged ({error}).") from None
    keyword = CHUNK_V3 if CHUNK_V3 in chunks else CHUNK_KEYWORD
    if keyword not in chunks:
        raise CardError("The PNG has no character card in it (no 'ccv3' or 'chara' text chunk).")
    try:
        decoded = base64.b64decode(chunks[keyword].strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CardError(f"The PNG's '{keyword}' chunk is not valid base64.") from None
    try:
        return decoded.decode("utf-8"), portrait
    except UnicodeDecodeError:
        raise CardError("The PNG's card is not UTF-8 text.") from None


def _check_size(image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise CardError(
            f"The image is {width} x {height} pixels; a card's portrait may have at most "
            f"{MAX_IMAGE_PIXELS:,} pixels."
        )


@contextmanager
def _text_memory(limit: int) -> Iterator[None]:
    """Pillow's cap on the text chunks it keeps while reading (a module-wide setting)."""
    before = PngImagePlugin.MAX_TEXT_MEMORY
    PngImagePlugin.MAX_TEXT_MEMORY = limit
    try:
        yield
    finally:
        PngImagePlugin.MAX_TEXT_MEMORY = before


def png_bytes(image: Image.Image) -> bytes:
    """The portrait alone, as a fresh PNG (no text chunks, nothing else carried over)."""
    out = io.BytesIO()
    image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(out, "PNG")
    return out.getvalue()


def card_from_json(text: str, image: bytes | None = None) -> Card:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise CardError(f"The card is not valid JSON ({error}).") from None
    if not isinstance(document, dict):
        raise CardError("The card must be a JSON object.")
    spec = document.get("spec")
    if spec is None:
        return _upgrade_v1(document, image)
    if spec not in (SPEC, SPEC_V3):
        raise CardError(
            f"Unsupported card spec {str(spec)[:40]!r}; Stormchat reads {SPEC_V3}, {SPEC} (and V1)."
        )
    data = document.get("data")
    if not isinstance(data, dict):
        raise CardError(f"A {spec} card needs a 'data' object.")
    extra_top = {k: v for k, v in document.items() if k not in ("spec", "spec_version", "data")}
    return _validated(data, extra_top, image)


def _upgrade_v1(document: dict[str, Any], image: bytes | None) -> Card:
    """A V1 card (the six fields at the top level) as V2."""
    if not isinstance(document.get("name"), str) or not any(
        key in document for key in V1_FIELDS[1:]
    ):
        raise CardError("This JSON is not a character card (no spec, and no V1 fields).")
    data = {key: document.get(key, "") for key in V1_FIELDS}
    extra = {k: v for k, v in document.items() if k not in V1_FIELDS}
    return _validated(data, {}, image, extra_data=extra)


def _validated(
    data: dict[str, Any],
    extra_top: dict[str, Any],
    image: bytes | None,
    extra_data: dict[str, Any] | None = None,
) -> Card:
    clean: dict[str, Any] = {}
    for key in TEXT_FIELDS:
        value = data.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise CardError(f"The card's '{key}' must be text.")
        clean[key] = value
    if not clean["name"].strip():
        raise CardError("The card has no name.")
    for key in LIST_FIELDS:
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CardError(f"The card's '{key}' must be a list of texts.")
        clean[key] = value
    extensions = data.get("extensions") or {}
    if not isinstance(extensions, dict):
        raise CardError("The card's 'extensions' must be an object.")
    clean["extensions"] = extensions
    book = data.get("character_book")
    if book is not None and not isinstance(book, dict):
        raise CardError("The card's 'character_book' must be an object.")
    clean["character_book"] = book
    clean |= _v3_fields(data)
    unknown = {k: v for k, v in data.items() if k not in KNOWN_DATA_FIELDS}
    extra = {**(extra_data or {}), **unknown}
    # NUL can't be stored (PostgreSQL text and jsonb), so it never gets in.
    return Card(without_nul(clean), without_nul(extra_top), without_nul(extra), image)


def _v3_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The V3 fields, checked; missing ones get their empty values (lenient import)."""
    nickname = data.get("nickname") or ""
    if not isinstance(nickname, str):
        raise CardError("The card's 'nickname' must be text.")
    lists = {}
    for key in ("group_only_greetings", "source"):
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CardError(f"The card's '{key}' must be a list of texts.")
        lists[key] = value
    notes = data.get("creator_notes_multilingual") or {}
    if not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values()):
        raise CardError("The card's 'creator_notes_multilingual' must map languages to texts.")
    dates = {}
    for key in ("creation_date", "modification_date"):
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise CardError(f"The card's '{key}' must be a number (Unix seconds).")
        dates[key] = int(value) if value is not None else None
    assets = data.get("assets")
    if assets is not None:
        if not isinstance(assets, list) or not all(isinstance(a, dict) for a in assets):
            raise CardError("The card's 'assets' must be a list of objects.")
        for asset in assets:
            if not all(isinstance(asset.get(k, ""), str) for k in ("type", "uri", "name", "ext")):
                raise CardError("Each of the card's assets needs text type, uri, name and ext.")
    return {"nickname": nickname, **lists, "creator_notes_multilingual": notes, **dates,
            "assets": assets}  # fmt: skip


def card_document(card: Card) -> dict[str, Any]:
    """The card as a V3 JSON document (``spec_version`` 3.0, modified now), unknown fields
    back in their places."""
    data = {**card.data, **card.extra_data}
    for optional in ("character_book", "assets", "creation_date"):
        if data.get(optional) is None:
            data.pop(optional, None)
    data["modification_date"] = int(time.time())
    return {"spec": SPEC_V3, "spec_version": SPEC_V3_VERSION, "data": data, **card.extra_top}


def card_document_v2(card: Card) -> dict[str, Any]:
    """The V2 backfill of a V3 card, for apps that read only ``chara``: V3 fields left out,
    a note in the creator notes, and lorebook decorators removed. An entry with a reveal
    point is disabled there, since a V2 app can't keep a spoiler boundary."""
    data = {k: v for k, v in {**card.data, **card.extra_data}.items() if k not in V3_FIELDS}
    notes = data.get("creator_notes") or ""
    data["creator_notes"] = f"{BACKFILL_NOTE}\n\n{notes}" if notes else BACKFILL_NOTE
    book = data.get("character_book")
    if book is None:
        data.pop("character_book", None)
    elif isinstance(book, dict):
        data["character_book"] = {
            **book,
            "entries": [_v2_entry(e) for e in book.get("entries", [])],
        }
    return {"spec": SPEC, "spec_version": SPEC_VERSION, "data": data}


def _v2_entry(entry: Any) -> Any:
    if not isinstance(entry, dict):
        return entry
    decorated = decorators.parse(str(entry.get("content") or ""))
    spoiler = bool(((entry.get("extensions") or {}).get("stormchat") or {}).get("reveal"))
    return {
        **entry,
        "content": decorated.text,
        "enabled": bool(entry.get("enabled", True)) and not spoiler,
    }


def card_json(card: Card) -> bytes:
    """The card as UTF-8 JSON (V3)."""
    return json.dumps(card_document(card), ensure_ascii=False, indent=2).encode()


def card_png(card: Card, portrait: bytes) -> bytes:
    """The portrait PNG with the card in a ``ccv3`` chunk and its V2 backfill in ``chara``."""
    v3 = base64.b64encode(json.dumps(card_document(card)).encode()).decode("ascii")
    v2 = base64.b64encode(json.dumps(card_document_v2(card)).encode()).decode("ascii")
    with Image.open(io.BytesIO(portrait)) as image:
        info = PngImagePlugin.PngInfo()
        info.add_text(CHUNK_KEYWORD, v2)
        info.add_text(CHUNK_V3, v3)
        out = io.BytesIO()
        image.save(out, "PNG", pnginfo=info)
    return out.getvalue()
