"""Personas in and out of character cards: import a card (V1, V2, V3 JSON; PNG; CHARX),
export a persona as a V3 card (JSON, PNG with a V2 backfill, or CHARX with its assets)."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.text import slugify
from PIL import Image, ImageDraw

from personas.cards import Card, CardError, card_json, card_png, png_bytes, read_card
from personas.charx import EMBEDDED, MAX_FILE_BYTES, asset_path, card_charx
from personas.lore.formats import (
    BookData,
    LorebookFormatError,
    read_ccv3_book,
)
from personas.lore.services import lorebook_create, lorebook_object
from personas.models import Persona, PersonaAsset
from personas.sampling import SamplingError, sampling_extension, sampling_from_extensions

CardFormat = Literal["json", "png", "charx"]
# Card field -> Persona field, where the names differ.
RENAMED = {"first_mes": "greeting", "mes_example": "example_dialogue"}
CARD_FIELDS = (
    "name", "description", "personality", "scenario", "first_mes", "mes_example",
    "creator_notes", "system_prompt", "post_history_instructions", "alternate_greetings",
    "tags", "creator", "character_version", "extensions",
    # Character Card V3
    "nickname", "group_only_greetings", "creator_notes_multilingual", "source",
    "creation_date", "modification_date",
)  # fmt: skip
MAIN_ICON = {"type": "icon", "name": "main"}


def persona_import_card(*, raw: bytes) -> Persona:
    """A new persona from card bytes (JSON or PNG); CardError leaves everything unchanged.

    The slug is the slugified card name, made unique with -2, -3... if it is taken.
    """
    card = read_card(raw)
    persona = Persona(slug=_free_slug(card.name))
    for key in CARD_FIELDS:
        setattr(persona, RENAMED.get(key, key), card.data[key])
    persona.name = persona.name.strip()[: Persona._meta.get_field("name").max_length]
    _check_lengths(persona)
    try:
        sampling, persona.extensions = sampling_from_extensions(persona.extensions)
    except SamplingError as error:
        raise CardError(str(error)) from None
    persona.talkativeness, persona.extensions = _talkativeness(persona.extensions)
    for name, value in sampling.items():
        setattr(persona, name, value)
    persona.tagline = _tagline(card)
    persona.card_extra = {"top": card.extra_top, "data": card.extra_data}
    book = _own_book(card, persona.name)
    icon, others = _assets(card)
    with transaction.atomic():
        if book is not None:
            persona.own_lorebook = lorebook_create(book)
        portrait = icon if icon is not None else card.image
        if portrait is not None:
            persona.avatar.save(f"{persona.slug}.png", ContentFile(portrait), save=False)
        persona.save()
        for order, (asset, data) in enumerate(others):
            row = PersonaAsset(
                persona=persona,
                type=asset["type"][:40],
                name=asset["name"][:200],
                ext=asset["ext"][:20],
                uri="" if data is not None else asset["uri"][:2000],
                order=order,
            )
            if data is not None:
                row.file.save(
                    f"{persona.slug}-{order}.{row.ext or 'bin'}", ContentFile(data), save=False
                )
            row.save()
    return persona


def _assets(card: Card) -> tuple[bytes | None, list[tuple[dict[str, str], bytes | None]]]:
    """The main icon's bytes (if the card carried them), and every other asset with its
    bytes (None when it lives at a URL, which is kept and never fetched)."""
    icon: bytes | None = None
    others: list[tuple[dict[str, str], bytes | None]] = []
    for raw in card.data.get("assets") or []:
        asset = {k: str(raw.get(k, "")) for k in ("type", "uri", "name", "ext")}
        data = _asset_bytes(card, asset["uri"])
        main = asset["type"] == "icon" and asset["name"] == "main" and icon is None
        if main and (data is not None or asset["uri"] == "ccdefault:"):
            icon = data  # ccdefault: is the PNG's own portrait (None here)
            continue
        others.append((asset, data))
    return icon, others


def _asset_bytes(card: Card, uri: str) -> bytes | None:
    if uri.startswith(EMBEDDED):
        return card.files.get(uri.removeprefix(EMBEDDED))
    if uri.startswith("data:") and ";base64," in uri:
        encoded = uri.split(";base64,", 1)[1]
        if len(encoded) > MAX_FILE_BYTES * 4 // 3 + 4:
            raise CardError("An asset in the card is larger than a card's file may be.")
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise CardError("An asset's data URI is not valid base64.") from None
    return None


def _own_book(card: Card, name: str) -> BookData | None:
    """The card's ``character_book``, read (CardError if it is broken)."""
    if not card.data["character_book"]:
        return None
    try:
        book = read_ccv3_book(card.data["character_book"])
    except LorebookFormatError as error:
        raise CardError(f"The card's lorebook can't be read: {error}") from None
    if not book.book["extra"]["ccv3"].get("name"):
        book.book["name"] = f"{name}'s lorebook"[:200]
    return book


def _check_lengths(persona: Persona) -> None:
    """CardError for a field longer than its column holds: a clear refusal, the same on
    every database (PostgreSQL would raise a DataError; SQLite would store it)."""
    for key in CARD_FIELDS:
        field = Persona._meta.get_field(RENAMED.get(key, key))
        value = getattr(persona, field.name)
        limit = getattr(field, "max_length", None)
        if limit and isinstance(value, str) and len(value) > limit:
            raise CardError(
                f"The card's '{key}' is {len(value):,} characters; at most {limit:,} fit."
            )


def _talkativeness(extensions: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """A card's ``extensions.talkativeness`` (SillyTavern's group-chat setting, a number
    or a number written as text, 0 to 1; absent or empty is 0.5), and the extensions
    without it, which then lives in the persona's field."""
    default = Persona._meta.get_field("talkativeness").default
    rest = {key: value for key, value in extensions.items() if key != "talkativeness"}
    raw = extensions.get("talkativeness")
    if raw is None or raw == "":
        return default, rest
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = float(raw)
    except (TypeError, ValueError):
        raise CardError("The card's 'extensions.talkativeness' must be a number.") from None
    if not 0 <= value <= 1:
        raise CardError("The card's 'extensions.talkativeness' must be from 0 to 1.")
    return value, rest


def persona_card(persona: Persona, *, charx: bool = False) -> tuple[Card, dict[str, bytes]]:
    """The persona as a card, with the unknown fields it was imported with, and (for a
    CHARX) the files its assets point to. Elsewhere assets with files travel as data URIs."""
    data: dict[str, Any] = {key: getattr(persona, RENAMED.get(key, key)) for key in CARD_FIELDS}
    extensions = dict(data["extensions"] or {})
    ours = extensions.get("stormchat")
    ours = dict(ours) if isinstance(ours, dict) else {}
    data["extensions"] = extensions | {
        # Written as text, as SillyTavern writes it (and reads either).
        "talkativeness": f"{persona.talkativeness:g}",
        "stormchat": ours | {"sampling": sampling_extension(persona)},
    }
    files: dict[str, bytes] = {}
    main = {**MAIN_ICON, "uri": "ccdefault:", "ext": "png"}
    if charx:
        icon_path = asset_path("icon", "main", "png")
        main["uri"] = EMBEDDED + icon_path
        files[icon_path] = _portrait(persona)
    assets = [main]
    for row in persona.assets.all():
        asset = {"type": row.type, "uri": row.uri, "name": row.name, "ext": row.ext}
        if row.file:
            with row.file.open("rb") as handle:
                content = handle.read(MAX_FILE_BYTES + 1)
            if charx:
                path = asset_path(row.type, row.name, row.ext)
                files[path] = content
                asset["uri"] = EMBEDDED + path
            else:
                encoded = base64.b64encode(content).decode("ascii")
                asset["uri"] = f"data:application/octet-stream;base64,{encoded}"
        assets.append(asset)
    data["assets"] = assets
    book = persona.own_lorebook
    data["character_book"] = lorebook_object(book) if book is not None else None
    extra = persona.card_extra or {}
    card = Card(data, dict(extra.get("top") or {}), dict(extra.get("data") or {}))
    return card, files


def persona_export_card(*, persona: Persona, card_format: CardFormat) -> tuple[str, bytes]:
    """The file name and bytes of the persona's V3 card: JSON, the portrait PNG with the
    card inside (and a V2 backfill), or a CHARX with every asset."""
    card, files = persona_card(persona, charx=card_format == "charx")
    if card_format == "json":
        return f"{persona.slug}.json", card_json(card)
    if card_format == "charx":
        return f"{persona.slug}.charx", card_charx(card, files)
    return f"{persona.slug}.png", card_png(card, _portrait(persona))


def _free_slug(name: str) -> str:
    base = (slugify(name) or "character")[:70]
    slug, n = base, 1
    while Persona.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _tagline(card: Card) -> str:
    """A gallery line: the creator's notes or description, first line, shortened."""
    source = card.data["creator_notes"].strip() or card.data["description"].strip()
    line = source.splitlines()[0] if source else ""
    limit = Persona._meta.get_field("tagline").max_length
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _portrait(persona: Persona) -> bytes:
    """The uploaded avatar as PNG, or a card in the persona's colour with its initial."""
    if persona.avatar:
        try:
            with persona.avatar.open("rb") as handle, Image.open(handle) as image:
                return png_bytes(image)
        except OSError:
            pass  # a missing or unreadable upload: draw one instead
    image = Image.new("RGB", (400, 600), persona.accent_color or "#3b82f6")
    draw = ImageDraw.Draw(image)
    draw.text((200, 300), (persona.name[:1] or "?").upper(), fill="white", anchor="mm")
    return png_bytes(image)
