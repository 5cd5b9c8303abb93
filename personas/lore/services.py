"""Writes for lorebooks: books from files, and files from books."""

from __future__ import annotations

import json
from typing import Any, Literal

from django.db import transaction

from personas.lore import formats
from personas.lore.formats import BookData, LorebookFormatError
from personas.models import Lorebook, LoreEntry

BookFormat = Literal["ccv3", "st"]
# A book file people upload or operators import: real ones are a few MB at most.
MAX_BOOK_BYTES = 8 * 1024 * 1024


def lorebook_create(data: BookData) -> Lorebook:
    """A new book with its entries (all or nothing)."""
    with transaction.atomic():
        book = Lorebook.objects.create(**data.book)
        LoreEntry.objects.bulk_create(LoreEntry(book=book, **fields) for fields in data.entries)
        book.touch()
        book.refresh_from_db()
    return book


def lorebook_read_file(raw: bytes, *, name: str = "") -> BookData:
    """A book file's contents: CCv3 ``lorebook_v3`` or SillyTavern World Info, told apart by
    their shape. LorebookFormatError says why a file can't be read."""
    if len(raw) > MAX_BOOK_BYTES:
        raise LorebookFormatError(
            f"The file is {len(raw):,} bytes; a lorebook may be at most {MAX_BOOK_BYTES:,}."
        )
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LorebookFormatError(f"The file is not JSON ({error}).") from None
    if isinstance(document, dict) and document.get("spec") == "lorebook_v3":
        return formats.read_lorebook_v3(document)
    if isinstance(document, dict) and isinstance(document.get("entries"), dict):
        return formats.read_world_info(document, name=name)
    raise LorebookFormatError(
        "This is neither a CCv3 lorebook ({'spec': 'lorebook_v3', ...}) nor a SillyTavern "
        "World Info file ({'entries': {...}})."
    )


def lorebook_import_file(raw: bytes, *, name: str = "") -> Lorebook:
    """A new book from a file (nothing is saved if the file can't be read)."""
    return lorebook_create(lorebook_read_file(raw, name=name))


def lorebook_document(book: Lorebook, book_format: BookFormat) -> dict[str, Any]:
    """The book as a file's JSON document."""
    entries = list(book.entries.order_by("pk"))
    if book_format == "st":
        return formats.write_world_info(book, entries)
    return formats.write_lorebook_v3(book, entries)


def lorebook_object(book: Lorebook) -> dict[str, Any]:
    """The book as a CCv3 Lorebook object (a card's ``character_book``)."""
    return formats.write_ccv3_book(book, list(book.entries.order_by("pk")))


def lorebook_export_file(book: Lorebook, book_format: BookFormat) -> bytes:
    """The book as UTF-8 JSON."""
    document = lorebook_document(book, book_format)
    return json.dumps(document, ensure_ascii=False, indent=2).encode()
