"""``python -m stormchat.serve``: daphne on uvloop's event loop.

daphne builds its Twisted reactor on ``asyncio.new_event_loop()`` when ``daphne.server``
is first imported, so the loop policy has to be set before that import; this module does
that and then hands over to daphne's own command line (every daphne option works).
uvloop's loop runs the same asyncio code with less overhead per callback, which is most
of a streaming server's work (README, "Performance"). ``STORMCHAT_UVLOOP=0`` keeps the
standard loop.
"""

from __future__ import annotations

import asyncio
import os


def main() -> None:
    """Set the loop policy, then run daphne's command line."""
    if os.environ.get("STORMCHAT_UVLOOP", "1") != "0":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    from daphne.cli import CommandLineInterface

    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
