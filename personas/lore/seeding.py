"""The shipped lorebooks (``personas/seed/lore.toml``): installed by ``seed_personas``.

A book is matched by its seed key (kept in ``extra["seed"]``). A missing book is created
with its entries and linked to the shipped personas it names; an existing one is left
alone, so admin edits survive, unless ``force`` resets its fields and entries to the
shipped text (and links it again).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from personas.models import Lorebook, LoreEntry, Persona

LORE_FILE = Path(__file__).resolve().parent.parent / "seed" / "lore.toml"
BOOK_FIELDS = ("name", "description", "scan_depth", "token_budget", "recursive_scanning")
ENTRY_FIELDS = ("name", "keys", "content", "constant", "reveal", "secondary_keys", "selective",
                "position", "depth", "insertion_order", "priority")  # fmt: skip


@dataclass
class LoreSeedReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    entries: int = 0


def lore_definitions(path: Path = LORE_FILE) -> list[dict[str, Any]]:
    """The shipped books, as written in the seed file."""
    with path.open("rb") as handle:
        books: list[dict[str, Any]] = tomllib.load(handle)["book"]
    return books


def _entry(book: Lorebook, index: int, definition: dict[str, Any]) -> LoreEntry:
    fields = {key: definition[key] for key in ENTRY_FIELDS if key in definition}
    fields["content"] = fields.get("content", "").strip()
    fields.setdefault("insertion_order", 100 + index)
    titles = {key: definition[key] for key in ("epithet", "tagline") if key in definition}
    if titles:  # what the gallery shows once the reader reaches this entry
        fields["extensions"] = {"stormchat": titles}
    return LoreEntry(book=book, **fields)


def _link(book: Lorebook, definition: dict[str, Any]) -> None:
    book.personas.add(*Persona.objects.filter(slug__in=definition.get("personas", [])))
    own = definition.get("persona")
    if own:
        # A new revision (update() skips auto_now), so no cached copy keeps the old book.
        Persona.objects.filter(slug=own).update(own_lorebook=book, updated_at=timezone.now())


@transaction.atomic
def lore_seed(*, force: bool = False, path: Path = LORE_FILE) -> LoreSeedReport:
    """Install the shipped books that are missing (``force``: reset the others too)."""
    report = LoreSeedReport()
    for definition in lore_definitions(path):
        key = definition["seed"]
        fields = {name: definition[name] for name in BOOK_FIELDS if name in definition}
        book = Lorebook.objects.filter(extra__seed=key).first()
        if book is not None and not force:
            report.unchanged.append(key)
            continue
        if book is None:
            book = Lorebook.objects.create(**fields, extra={"seed": key})
            report.created.append(key)
        else:
            for name, value in fields.items():
                setattr(book, name, value)
            book.save()
            book.entries.all().delete()
            report.updated.append(key)
        entries = [_entry(book, i, e) for i, e in enumerate(definition.get("entries", []))]
        LoreEntry.objects.bulk_create(entries)
        book.touch()
        report.entries += len(entries)
        _link(book, definition)
    return report
