"""``manage.py export_lorebook``: books as CCv3 lorebook_v3 or SillyTavern World Info files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.text import slugify

from personas.lore.services import lorebook_export_file
from personas.models import Lorebook


class Command(BaseCommand):
    help = (
        "Export lorebooks (by id or exact name; all when none is given) as CCv3 "
        "lorebook_v3 JSON (--format ccv3, the default) or SillyTavern World Info (--format st)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("books", nargs="*", help="Book ids or names (default: all).")
        parser.add_argument("--format", choices=["ccv3", "st"], default="ccv3",
                            dest="book_format")  # fmt: skip
        parser.add_argument("--out", required=True, help="Folder to write the files into.")

    def handle(self, *args: Any, books: list[str], book_format: str, out: str, **_: Any) -> None:
        chosen = self._books(books)
        folder = Path(out)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CommandError(f"Cannot write to {folder}: {error}") from None
        for book in chosen:
            path = folder / f"{slugify(book.name) or 'lorebook'}-{book.pk}.json"
            path.write_bytes(lorebook_export_file(book, book_format))  # type: ignore[arg-type]
            self.stdout.write(str(path))
        self.stdout.write(self.style.SUCCESS(f"Exported {len(chosen)} book(s) to {folder}."))

    def _books(self, wanted: list[str]) -> list[Lorebook]:
        if not wanted:
            found = list(Lorebook.objects.all())
            if not found:
                raise CommandError("There are no lorebooks to export.")
            return found
        found = []
        for ref in wanted:
            book = (
                Lorebook.objects.filter(pk=int(ref)).first()
                if ref.isdigit()
                else Lorebook.objects.filter(name=ref).first()
            )
            if book is None:
                raise CommandError(f"No lorebook with id or name {ref!r}.")
            found.append(book)
        return found
