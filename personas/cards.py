"""Character Card V2 (``chara_card_v2``), the format SillyTavern and its ecosystem share.

A card is JSON, or a PNG whose ``tEXt`` chunk ``chara`` holds the base64 of that JSON in
UTF-8. Reading accepts V2 and upgrades V1 (the bare fields, no ``spec``); anything else
is refused with a ``CardError`` that says what is wrong. Pillow reads and writes the PNG
(and checks every chunk's CRC); nothing here parses PNG by hand.

Only conversion lives here; saving personas is ``personas.services``.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, PngImagePlugin, UnidentifiedImageError

from stormchat.text import without_nul

SPEC = "chara_card_v2"
SPEC_VERSION = "2.0"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHUNK_KEYWORD = "chara"
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
KNOWN_DATA_FIELDS = {*TEXT_FIELDS, *LIST_FIELDS, "extensions", "character_book"}
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

    @property
    def name(self) -> str:
        """The character's name."""
        return str(self.data["name"])


def read_card(raw: bytes) -> Card:
    """A card from JSON or PNG bytes; CardError if it is broken, oversized or not a card."""
    if len(raw) > MAX_CARD_BYTES:
        raise CardError(
            f"The file is {len(raw) / 1024 / 1024:.1f} MB; cards are limited to "
            f"{MAX_CARD_BYTES // 1024 // 1024} MB."
        )
    if raw.startswith(PNG_SIGNATURE):
        text, image = _png_card_text(raw)
        return _card_from_json(text, image=image)
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
    return _card_from_json(text)


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
    if CHUNK_KEYWORD not in chunks:
        raise CardError("The PNG has no character card in it (no 'chara' text chunk).")
    try:
        decoded = base64.b64decode(chunks[CHUNK_KEYWORD].strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CardError("The PNG's 'chara' chunk is not valid base64.") from None
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


def _card_from_json(text: str, image: bytes | None = None) -> Card:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise CardError(f"The card is not valid JSON ({error}).") from None
    if not isinstance(document, dict):
        raise CardError("The card must be a JSON object.")
    spec = document.get("spec")
    if spec is None:
        return _upgrade_v1(document, image)
    if spec != SPEC:
        raise CardError(
            f"Unsupported card spec {str(spec)[:40]!r}; Stormchat reads {SPEC} (and V1)."
        )
    data = document.get("data")
    if not isinstance(data, dict):
        raise CardError("A chara_card_v2 card needs a 'data' object.")
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
    unknown = {k: v for k, v in data.items() if k not in KNOWN_DATA_FIELDS}
    extra = {**(extra_data or {}), **unknown}
    # NUL can't be stored (PostgreSQL text and jsonb), so it never gets in.
    return Card(without_nul(clean), without_nul(extra_top), without_nul(extra), image)


def card_document(card: Card) -> dict[str, Any]:
    """The card as a V2 JSON document, unknown fields back in their places."""
    data = {**card.data, **card.extra_data}
    if data.get("character_book") is None:
        data.pop("character_book", None)
    return {"spec": SPEC, "spec_version": SPEC_VERSION, "data": data, **card.extra_top}


def card_json(card: Card) -> bytes:
    """The card as UTF-8 JSON."""
    return json.dumps(card_document(card), ensure_ascii=False, indent=2).encode()


def card_png(card: Card, portrait: bytes) -> bytes:
    """The portrait PNG with the card in a ``tEXt`` chunk ``chara``, as SillyTavern writes."""
    payload = base64.b64encode(json.dumps(card_document(card)).encode()).decode("ascii")
    with Image.open(io.BytesIO(portrait)) as image:
        info = PngImagePlugin.PngInfo()
        info.add_text(CHUNK_KEYWORD, payload)
        out = io.BytesIO()
        image.save(out, "PNG", pnginfo=info)
    return out.getvalue()
