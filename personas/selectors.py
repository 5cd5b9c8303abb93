"""Reads for personas."""

from __future__ import annotations

from personas.models import Persona
from stormchat.text import without_nul


def persona_list_active() -> list[Persona]:
    """Active personas in gallery order."""
    return list(Persona.objects.active())


def persona_get_active(*, slug: str) -> Persona | None:
    """The active persona with this slug, or None."""
    return Persona.objects.active().filter(slug=without_nul(slug)).first()
