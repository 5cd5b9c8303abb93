"""What a server process does once when it starts."""

from __future__ import annotations

import logging

from django.db import DatabaseError

from chat import actions
from chat.services import replies_orphaned

logger = logging.getLogger(__name__)


def reap_orphaned_replies() -> None:
    """Mark replies orphaned by a dead process as interrupted; never stop the start-up."""
    try:
        count = reap_now()
    except DatabaseError as error:  # e.g. migrations not applied yet
        logger.warning("could not reap interrupted replies: %s", error)
        return
    if count:
        logger.info("marked %d interrupted repl%s", count, "y" if count == 1 else "ies")


def reap_now() -> int:
    """Interrupt every streaming reply with no heartbeat now, telling its pages; returns
    how many. Blocking (for start-up and ``reap_generations``)."""
    return len(actions.replies_reap(message_ids=replies_orphaned()))
