"""What a server process does once when it starts."""

from __future__ import annotations

import logging

from django.db import DatabaseError

from chat.services import messages_reap_interrupted

logger = logging.getLogger(__name__)


def reap_orphaned_replies() -> None:
    """Mark replies orphaned by a dead process as interrupted; never stop the start-up."""
    try:
        count = messages_reap_interrupted()
    except DatabaseError as error:  # e.g. migrations not applied yet
        logger.warning("could not reap interrupted replies: %s", error)
        return
    if count:
        logger.info("marked %d interrupted repl%s", count, "y" if count == 1 else "ies")
