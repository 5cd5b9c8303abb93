"""Personas in and out of Character Card V2: import a card, export a persona as a card."""

from __future__ import annotations

from typing import Literal

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.text import slugify
from PIL import Image, ImageDraw

from personas.cards import Card, CardError, card_json, card_png, png_bytes, read_card
from personas.lore.formats import (
    BookData,
    LorebookFormatError,
    read_ccv3_book,
    write_ccv3_book,
)
from personas.lore.services import lorebook_create
from personas.models import Persona

CardFormat = Literal["json", "png"]
# Card field -> Persona field, where the names differ.
RENAMED = {"first_mes": "greeting", "mes_example": "example_dialogue"}
CARD_FIELDS = (
    "name", "description", "personality", "scenario", "first_mes", "mes_example",
    "creator_notes", "system_prompt", "post_history_instructions", "alternate_greetings",
    "tags", "creator", "character_version", "extensions",
)  # fmt: skip


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
    persona.tagline = _tagline(card)
    persona.card_extra = {"top": card.extra_top, "data": card.extra_data}
    book = _own_book(card, persona.name)
    with transaction.atomic():
        if book is not None:
            persona.own_lorebook = lorebook_create(book)
        if card.image is not None:
            persona.avatar.save(f"{persona.slug}.png", ContentFile(card.image), save=False)
        persona.save()
    return persona


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


def persona_card(persona: Persona) -> Card:
    """The persona as a card, with the unknown fields it was imported with."""
    data = {key: getattr(persona, RENAMED.get(key, key)) for key in CARD_FIELDS}
    book = persona.own_lorebook
    data["character_book"] = (
        write_ccv3_book(book, list(book.entries.order_by("pk"))) if book is not None else None
    )
    extra = persona.card_extra or {}
    return Card(data, dict(extra.get("top") or {}), dict(extra.get("data") or {}))


def persona_export_card(*, persona: Persona, card_format: CardFormat) -> tuple[str, bytes]:
    """The file name and bytes of the persona's card: JSON, or the portrait PNG with the
    card inside."""
    card = persona_card(persona)
    if card_format == "json":
        return f"{persona.slug}.json", card_json(card)
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
