"""``manage.py import_personas``: character cards (V3, V2 or V1; JSON, PNG or CHARX) become
personas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personas.card_services import persona_import_card
from personas.cards import CardError
from stormchat.progress import progress

CARD_SUFFIXES = {".json", ".png", ".charx"}


def card_files(paths: list[str]) -> list[Path]:
    """The card files named, and the .json / .png / .charx files inside named folders."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in CARD_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise CommandError(f"{name}: no such file or folder.")
    return found


class Command(BaseCommand):
    help = (
        "Import character cards (V3 and V2, as JSON, PNG or CHARX; V1 cards are upgraded) "
        "as new personas. Folders are searched for .json, .png and .charx files. Each "
        "persona's slug is its slugified name, made unique if taken. A broken card is "
        "reported and skipped; the command then exits with status 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", help="Card files or folders of cards.")

    def handle(self, *args: Any, paths: list[str], **options: Any) -> None:
        files = card_files(paths)
        if not files:
            raise CommandError("No .json, .png or .charx card files found.")
        failed: list[str] = []
        for path in progress(files, total=len(files), label="Importing cards"):
            try:
                persona = persona_import_card(raw=path.read_bytes())
            except (CardError, OSError) as error:
                failed.append(f"{path}: {error}")
                continue
            self.stdout.write(f"{path} -> {persona.slug} ({persona.name})")
        for line in failed:
            self.stderr.write(line)
        imported = len(files) - len(failed)
        summary = f"Imported {imported} of {len(files)} card{'s' if len(files) != 1 else ''}."
        if failed:
            raise CommandError(f"{summary} {len(failed)} could not be read (see above).")
        self.stdout.write(self.style.SUCCESS(summary))
