"""``manage.py import_lorebook``: lorebook files (CCv3 lorebook_v3 or SillyTavern World Info)
as new books."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personas.lore.formats import LorebookFormatError
from personas.lore.services import MAX_BOOK_BYTES, lorebook_import_file
from personas.models import Persona


class Command(BaseCommand):
    help = (
        "Import lorebooks: CCv3 files ({'spec': 'lorebook_v3', ...}) or SillyTavern World "
        "Info files. Each file becomes a new book; a broken file is reported by name and "
        "nothing of it is saved (the exit status is then 1)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", help="Lorebook .json files.")
        parser.add_argument("--global", action="store_true", dest="is_global",
                            help="Attach the books to every persona.")  # fmt: skip
        parser.add_argument("--persona", action="append", default=[],
                            help="Link the books to this persona (slug; repeatable).")  # fmt: skip

    def handle(
        self, *args: Any, files: list[str], is_global: bool, persona: list[str], **_: Any
    ) -> None:
        personas = list(Persona.objects.filter(slug__in=persona))
        missing = sorted(set(persona) - {p.slug for p in personas})
        if missing:
            raise CommandError(f"No persona with slug: {', '.join(missing)}.")
        failures = 0
        for name in files:
            path = Path(name)
            try:
                with path.open("rb") as handle:
                    raw = handle.read(MAX_BOOK_BYTES + 1)
                book = lorebook_import_file(raw, name=path.stem)
            except (OSError, LorebookFormatError) as error:
                failures += 1
                self.stderr.write(f"{path}: {error}")
                continue
            if is_global:
                book.is_global = True
                book.save()
            for linked in personas:
                linked.lorebooks.add(book)
            self.stdout.write(f"{path}: {book.name} ({book.entries.count()} entries, id {book.pk})")
        if failures:
            raise CommandError(f"{failures} of {len(files)} file(s) could not be imported.")
