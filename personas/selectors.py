"""Reads for personas."""

from __future__ import annotations

from personas.lore import series
from personas.models import LoreEntry, Persona
from stormchat.text import without_nul


def persona_list_active() -> list[Persona]:
    """Active personas in gallery order."""
    return list(Persona.objects.active())


def persona_get_active(*, slug: str) -> Persona | None:
    """The active persona with this slug, or None."""
    return Persona.objects.active().filter(slug=without_nul(slug)).first()


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
