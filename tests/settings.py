"""Settings for the test suite: the site's own, in development mode unless a test says
otherwise (DEBUG defaults to off for everyone else). Subprocesses the tests start inherit
DEBUG=1 through the environment."""

import os

os.environ.setdefault("DEBUG", "1")

from stormchat.settings import *  # noqa: F403
