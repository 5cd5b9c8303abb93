"""The process's one random generator for what a prompt or a scene leaves to chance
(``{{random}}`` macros, lore entries' probability, who speaks next in a scene).

A new unseeded ``random.Random()`` reads 2.5 KB from the operating system's entropy
source to seed itself: per prompt, that cost more than building the rest of the prompt
(bench S3). Nothing here needs unpredictability against an attacker; tests pass their
own seeded generator.
"""

from __future__ import annotations

import random

CHANCE = random.Random()
