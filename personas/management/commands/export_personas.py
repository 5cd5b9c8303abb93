"""``manage.py export_personas``: personas as Character Card V3 files (JSON, PNG or CHARX)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personas.card_services import persona_export_card
from personas.models import Persona
from stormchat.progress import progress


class Command(BaseCommand):
    help = (
        "Export personas as Character Card V3 files that SillyTavern and other tools "
        "import: JSON, PNG (the portrait with the card in a 'ccv3' text chunk and a V2 "
        "backfill in 'chara'), or CHARX (a zip with the card and its assets). "
        "With no slugs, every persona is exported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slugs", nargs="*", help="Persona slugs (default: all).")
        parser.add_argument(
            "--format", choices=["json", "png", "charx"], default="png", dest="card_format",
            help="json, png (with a V2 backfill) or charx (with every asset); default png.",
        )  # fmt: skip
        parser.add_argument("--out", required=True, help="Folder to write the cards into.")

    def handle(
        self, *args: Any, slugs: list[str], card_format: str, out: str, **options: Any
    ) -> None:
        personas = list(Persona.objects.filter(slug__in=slugs) if slugs else Persona.objects.all())
        missing = sorted(set(slugs) - {p.slug for p in personas})
        if missing:
            raise CommandError(f"No persona with slug: {', '.join(missing)}.")
        if not personas:
            raise CommandError("There are no personas to export.")
        folder = Path(out)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CommandError(f"Cannot write to {folder}: {error}") from None
        for persona in progress(personas, total=len(personas), label="Exporting cards"):
            name, data = persona_export_card(persona=persona, card_format=card_format)  # type: ignore[arg-type]
            (folder / name).write_bytes(data)
            self.stdout.write(str(folder / name))
        self.stdout.write(self.style.SUCCESS(f"Exported {len(personas)} card(s) to {folder}."))
