"""Prompt assembly with lore: a 1,000-entry book scanned 10 messages deep over a 200-message
chat, on the prompt-building path a turn takes (``chat.prompting.build_prompt``).

Run in its own process, pinned like the app: ``python -m bench.lore`` prints JSON with the
p50 / p99 time per turn with the book and without it (the difference is what lore adds).

The book is shaped like a real one: each entry has a name and an alias as keys (a third
of them whole-word), one in ten also a common word, one in fifty a regex key, one in ten
secondary keys, and a quarter carry reveal points. Chat messages are 60 common words, and
three in ten mention an entry by name.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stormchat.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from chat.backends.base import BackendConfig, GenerationOptions  # noqa: E402
from chat.backends.openai_compat import OpenAICompatBackend  # noqa: E402
from chat.models import Message  # noqa: E402
from chat.prompting import LoreSources, build_prompt  # noqa: E402
from personas.lore.compiled import compile_book  # noqa: E402
from personas.models import Lorebook, LoreEntry, Persona  # noqa: E402

ENTRIES, MESSAGES, SCAN_DEPTH, TURNS = 1000, 200, 10, 300
WORDS = [f"w{i}" for i in range(5000)]


def book(rng: random.Random) -> Lorebook:
    lorebook = Lorebook(pk=1, name="Bench", scan_depth=SCAN_DEPTH, token_budget=2000)
    entries = []
    for i in range(ENTRIES):
        kind = i % 10
        keys = [f"Name{i}q", f"Alias{i}q"]
        if kind == 0:
            keys.append(rng.choice(WORDS))
        entry = LoreEntry(
            pk=i + 1,
            book=lorebook,
            keys=keys,
            content=f"Fact number {i}. " * 8,
            match_whole_words=kind < 3,
            use_regex=i % 50 == 0,
            selective=kind == 8,
            secondary_keys=[rng.choice(WORDS)] if kind == 8 else [],
            reveal=rng.choice(["", "", "words-of-radiance", "wind-and-truth"]),
        )
        if entry.use_regex:
            entry.keys = [rf"\bName{i}q\b|Alias{i}qs?"]
        entries.append(entry)
    return compile_book(lorebook, entries)


def history(rng: random.Random) -> list[Message]:
    texts = []
    for position in range(1, MESSAGES + 1):
        words = rng.choices(WORDS, k=60)
        if rng.random() < 0.3:
            words.append(f"Name{rng.randrange(ENTRIES)}q")
        texts.append(Message(role="user" if position % 2 else "assistant",
                             content=" ".join(words), position=position))  # fmt: skip
    return texts


def timed(**kwargs: object) -> list[float]:
    samples = []
    for _ in range(TURNS):
        started = time.perf_counter()
        build_prompt(**kwargs)  # type: ignore[arg-type]
        samples.append(time.perf_counter() - started)
    return sorted(samples)


def main() -> None:
    rng = random.Random(7)
    persona = Persona(name="Kaladin", system_prompt="You are Kaladin.", greeting="Hi")
    backend = OpenAICompatBackend(BackendConfig(name="openai", context_tokens=8192))
    common = {"persona": persona, "history": history(rng), "backend": backend,
              "options": GenerationOptions(max_tokens=512)}  # fmt: skip
    lore = LoreSources(books=[book(rng)], read_through="wind-and-truth")
    build_prompt(**common, lore=lore)  # warm up
    with_lore, without = timed(**common, lore=lore), timed(**common)
    result = build_prompt(**common, lore=lore)

    def p(samples: list[float], q: float) -> float:
        return samples[min(len(samples) - 1, round(q * (len(samples) - 1)))] * 1000

    print(json.dumps({
        "entries": ENTRIES, "messages": MESSAGES, "scan_depth": SCAN_DEPTH,
        "injected": len(result.lore), "dropped": len(result.lore_dropped),
        "with_lore_p50_ms": p(with_lore, 0.5), "with_lore_p99_ms": p(with_lore, 0.99),
        "without_lore_p50_ms": p(without, 0.5),
        "lore_added_p50_ms": p(with_lore, 0.5) - p(without, 0.5),
        "mean_ms": statistics.fmean(with_lore) * 1000,
    }))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
