"""The personas app's models: personas, and the lorebooks that ground them."""

from personas.models.lore import Lorebook, LoreEntry
from personas.models.persona import Persona, PersonaAsset, PersonaQuerySet

__all__ = ["LoreEntry", "Lorebook", "Persona", "PersonaAsset", "PersonaQuerySet"]
