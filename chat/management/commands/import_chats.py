"""``manage.py import_chats``: chats back from export_chats' JSON Lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.transfer import ImportRefused, chat_import_record
from stormchat.progress import progress


class Command(BaseCommand):
    help = (
        "Import chats from a JSON Lines file written by export_chats. Each chat keeps its "
        "id, messages and times; one that already exists is skipped. Owners are matched by "
        "username, or all given to --user. Bad lines are reported and make the exit status 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="A .jsonl file from export_chats.")
        parser.add_argument("--user", help="Give every imported chat to this user.")

    def handle(self, *args: Any, file: str, user: str | None, **options: Any) -> None:
        owner = None
        if user:
            owner = get_user_model().objects.filter(username=user).first()
            if owner is None:
                raise CommandError(f"No user '{user}'.")
        try:
            lines = Path(file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {file}: {error}") from None
        records = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
        imported = skipped = 0
        problems: list[str] = []
        for number, line in progress(records, total=len(records), label="Importing chats"):
            try:
                chat = chat_import_record(json.loads(line), user=owner)
            except (ValueError, ImportRefused) as error:
                problems.append(f"line {number}: {error}")
                continue
            if chat is None:
                skipped += 1
            else:
                imported += 1
        for problem in problems:
            self.stderr.write(problem)
        summary = f"Imported {imported} chat(s); {skipped} already present."
        if problems:
            raise CommandError(f"{summary} {len(problems)} line(s) could not be imported.")
        self.stdout.write(self.style.SUCCESS(summary))
