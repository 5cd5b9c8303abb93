"""Reads for personas."""

from __future__ import annotations

import copy
import functools
from datetime import datetime

from personas.lore import series
from personas.models import LoreEntry, Persona
from stormchat.text import without_nul


def persona_list_active() -> list[Persona]:
    """Active personas in gallery order."""
    return list(Persona.objects.active())


def persona_get_active(*, slug: str) -> Persona | None:
    """The active persona with this slug, or None."""
    return Persona.objects.active().filter(slug=without_nul(slug)).first()


# Personas kept per process for turns, by (id, updated_at): building one from its row (45
# columns, several of them JSON) was a fifth of the CPU a turn's reads cost (bench S3).
CACHE_PERSONAS = 64


def persona_as_saved(*, persona_id: int, updated_at: datetime) -> Persona | None:
    """The persona as saved at ``updated_at`` (read alongside the chat that uses it), or
    None once it is gone: a copy from a small process-wide cache when that revision was
    read before, so nothing a caller changes reaches another (blocking: reads the persona
    otherwise)."""
    found = _saved_revision(persona_id, updated_at)
    return copy.copy(found) if found is not None else None


@functools.lru_cache(maxsize=CACHE_PERSONAS)
def _saved_revision(persona_id: int, updated_at: datetime) -> Persona | None:
    # Saved again since the caller's read: the newer revision is as good.
    return Persona.objects.filter(pk=persona_id).first()


def personas_as_read(personas: list[Persona], *, read_through: str) -> list[Persona]:
    """The personas with the epithet and tagline a reader who has read through
    ``read_through`` may see: an entry of a persona's own book that sets them
    (``extensions.stormchat.epithet`` / ``tagline``) applies once its reveal point is
    reached, the latest one winning. The instances are changed, never saved."""
    by_book = {p.own_lorebook_id: p for p in personas if p.own_lorebook_id}
    entries = LoreEntry.objects.filter(book_id__in=by_book, enabled=True).exclude(reveal="")
    revealed = [
        e
        for e in entries.only("book_id", "reveal", "extensions")
        if series.is_revealed(e.reveal, read_through)
    ]
    for entry in sorted(revealed, key=lambda e: (series.order_of(e.reveal), e.pk)):
        titles = (entry.extensions or {}).get("stormchat") or {}
        persona = by_book[entry.book_id]
        persona.epithet = str(titles.get("epithet") or persona.epithet)
        persona.tagline = str(titles.get("tagline") or persona.tagline)
    return personas
