"""Writes for personas."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from personas.models import Persona

SEED_FILE = Path(__file__).resolve().parent / "seed" / "personas.toml"
# Fingerprints of earlier shipped versions of each persona: one still exactly as shipped
# (never edited in the admin) is brought up to date, so an upgrade fixes its text too.
RETIRED_FILE = SEED_FILE.with_name("retired.json")


@dataclass
class SeedReport:
    """What a seeding run did, by slug."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    upgraded: list[str] = field(default_factory=list)


def seed_definitions(path: Path = SEED_FILE) -> list[dict[str, Any]]:
    """The shipped persona definitions, with text fields trimmed."""
    with path.open("rb") as handle:
        entries: list[dict[str, Any]] = tomllib.load(handle)["persona"]
    return [
        {key: value.strip() if isinstance(value, str) else value for key, value in entry.items()}
        for entry in entries
    ]


@transaction.atomic
def personas_seed(
    *, force: bool = False, path: Path = SEED_FILE, retired_path: Path = RETIRED_FILE
) -> SeedReport:
    """Create the shipped personas that are missing; with ``force``, reset existing ones too.

    Without ``force`` an existing persona is never touched, so edits made in the admin
    survive every later run (and every ``make run``).
    """
    report = SeedReport()
    retired: dict[str, list[str]] = json.loads(retired_path.read_text())
    for definition in seed_definitions(path):
        slug = definition["slug"]
        defaults = {"avatar_static": f"avatars/{slug}.svg", **definition}
        persona = Persona.objects.filter(slug=slug).first()
        if persona is None:
            Persona.objects.create(**defaults)
            report.created.append(slug)
        elif force or _fingerprint(persona) in retired.get(slug, ()):
            for name, value in defaults.items():
                setattr(persona, name, value)
            persona.full_clean()
            persona.save()
            (report.updated if force else report.upgraded).append(slug)
        else:
            report.unchanged.append(slug)
    return report


FINGERPRINTED = ("name", "epithet", "tagline", "scenario", "system_prompt", "greeting",
                 "alternate_greetings", "example_dialogue", "accent_color", "sort_order",
                 "temperature")  # fmt: skip
# Fields shipped later: part of the fingerprint only once set, so the fingerprints of
# releases that predate them still match.
FINGERPRINTED_WHEN_SET = ("repeat_penalty", "min_p", "frequency_penalty", "presence_penalty",
                          "top_k", "seed", "stop_sequences")  # fmt: skip


def _fingerprint(persona: Persona) -> str:
    """The persona's shipped fields as they are now, hashed like ``retired.json``."""
    fields = {}
    for name in FINGERPRINTED:
        value = getattr(persona, name)
        fields[name] = value.strip() if isinstance(value, str) else value
    for name in FINGERPRINTED_WHEN_SET:
        value = getattr(persona, name)
        if value not in (None, []):
            fields[name] = value
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
