"""``manage.py reap_generations``: mark replies orphaned by a dead process as interrupted."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from chat.startup import reap_now


class Command(BaseCommand):
    help = (
        "Mark assistant replies still 'streaming' from a process that died as 'interrupted', "
        "keeping the text people saw, and tell their open pages. Replies whose run still has "
        "a heartbeat are left alone (every server process also does this by itself)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = reap_now()
        self.stdout.write(f"Marked {count} interrupted generation(s).")
