"""ASGI entry point for daphne: HTTP through Django, WebSockets through Channels."""

from __future__ import annotations

import gc
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
    # What is loaded by now (Django, the modules, the personas) lives as long as the
    # process: frozen, it is left out of the collector's full passes, which stop every
    # stream while they run (bench S1, S2, S2H then S3: full passes of 39-151 ms, median 66,
    # became 4.5-52 ms, median 29; one landing in a burst of 20 replies cost it 5 % of
    # delivery).
    gc.collect()
    gc.freeze()
