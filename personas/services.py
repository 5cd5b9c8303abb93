"""Writes for personas."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from personas.models import Persona

SEED_FILE = Path(__file__).resolve().parent / "seed" / "personas.toml"


@dataclass
class SeedReport:
    """What a seeding run did, by slug."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def seed_definitions(path: Path = SEED_FILE) -> list[dict[str, Any]]:
    """The shipped persona definitions, with text fields trimmed."""
    with path.open("rb") as handle:
        entries: list[dict[str, Any]] = tomllib.load(handle)["persona"]
    return [
        {key: value.strip() if isinstance(value, str) else value for key, value in entry.items()}
        for entry in entries
    ]


@transaction.atomic
def personas_seed(*, force: bool = False, path: Path = SEED_FILE) -> SeedReport:
    """Create the shipped personas that are missing; with ``force``, reset existing ones too.

    Without ``force`` an existing persona is never touched, so edits made in the admin
    survive every later run (and every ``make run``).
    """
    report = SeedReport()
    for definition in seed_definitions(path):
        slug = definition["slug"]
        defaults = {"avatar_static": f"avatars/{slug}.svg", **definition}
        persona = Persona.objects.filter(slug=slug).first()
        if persona is None:
            Persona.objects.create(**defaults)
            report.created.append(slug)
        elif force:
            for name, value in defaults.items():
                setattr(persona, name, value)
            persona.full_clean()
            persona.save()
            report.updated.append(slug)
        else:
            report.unchanged.append(slug)
    return report
