"""``manage.py seed_personas``: load the shipped Stormlight personas."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from personas.lore.seeding import lore_seed
from personas.services import personas_seed


class Command(BaseCommand):
    help = (
        "Create the shipped Stormlight personas and their lorebooks that are missing. "
        "Existing ones are left as they are, so admin edits survive; --force resets them "
        "to the shipped text."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Overwrite existing shipped personas with the shipped text.",
        )

    def handle(self, *args: Any, force: bool, **options: Any) -> None:
        report = personas_seed(force=force)
        lore = lore_seed(force=force)
        self.stdout.write(
            self.style.SUCCESS(
                f"Personas: {len(report.created)} created, {len(report.updated)} reset, "
                f"{len(report.unchanged)} left as they were, {len(report.upgraded)} brought "
                f"up to date (never edited). Lorebooks: {len(lore.created)} "
                f"created, {len(lore.updated)} reset, {len(lore.unchanged)} left as they were."
            )
        )
