"""``manage.py reap_generations``: mark replies orphaned by a dead process as interrupted."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from chat.services import messages_reap_interrupted


class Command(BaseCommand):
    help = (
        "Mark assistant replies still 'streaming' from a process that died as 'interrupted', "
        "keeping their partial text. Run it while no Stormchat server is running."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = messages_reap_interrupted()
        self.stdout.write(f"Marked {count} interrupted generation(s).")
