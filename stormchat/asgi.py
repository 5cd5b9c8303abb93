"""ASGI entry point for daphne: HTTP through Django, WebSockets through Channels."""

from __future__ import annotations

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stormchat.settings")
django.setup()

from chat.startup import reap_orphaned_replies  # noqa: E402
from chat.sweeping import SweepingApplication, start_sweeper  # noqa: E402
from stormchat.application import build_application  # noqa: E402

# Every server process sweeps for replies orphaned by a process that died (from its first
# request or socket on; chat/sweeping.py).
application = SweepingApplication(build_application())

# Replies left "streaming" by a process that died become "interrupted". Runs of other live
# processes keep a heartbeat in Redis and are left alone.
reap_orphaned_replies()

# Under daphne, sweep from the moment the server runs, not only from its first request.
if "twisted.internet.reactor" in sys.modules:
    from twisted.internet import reactor

    reactor.callWhenRunning(lambda: reactor.callLater(0, start_sweeper))  # type: ignore[attr-defined]
