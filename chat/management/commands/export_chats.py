"""``manage.py export_chats``: chats as JSON Lines (lossless) or Markdown transcripts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    OutputWrapper,
)

from chat.transfer import chat_markdown, chat_record, chats_for_export
from stormchat.progress import progress


class Command(BaseCommand):
    help = (
        "Export chats with all their messages: --format jsonl writes one JSON record per "
        "chat (import_chats reads it back), --format markdown a transcript to read. "
        "Writes to stdout unless --out is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="Only this user's chats (by username).")
        parser.add_argument(
            "--chat", action="append", default=[], dest="chats",
            help="Only this chat (by id); repeat for several.",
        )  # fmt: skip
        parser.add_argument("--format", choices=["jsonl", "markdown"], default="jsonl")
        parser.add_argument("--out", help="File to write (default: stdout).")

    def handle(self, *args: Any, **options: Any) -> None:
        chats = chats_for_export(username=options["user"], chat_ids=options["chats"])
        try:
            total = chats.count()
        except Exception as error:  # a malformed chat id
            raise CommandError(f"Cannot select chats: {error}") from None
        if not total:
            raise CommandError("No chats match.")
        out_path = options["out"]
        self.stdout.ending = ""
        try:
            stream: TextIO | OutputWrapper = (
                Path(out_path).open("w", encoding="utf-8")  # noqa: SIM115 (closed below)
                if out_path
                else self.stdout
            )
        except OSError as error:
            raise CommandError(f"Cannot write {out_path}: {error}") from None
        try:
            for index, chat in enumerate(progress(chats, total=total, label="Exporting chats")):
                if options["format"] == "jsonl":
                    stream.write(json.dumps(chat_record(chat), ensure_ascii=False) + "\n")
                else:
                    stream.write(("\n---\n\n" if index else "") + chat_markdown(chat))
        finally:
            if out_path:
                stream.close()
            else:
                stream.flush()
        self.stderr.write(f"Exported {total} chat(s).")
