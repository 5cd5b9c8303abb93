"""Which entries join a prompt: keys, logic, timing, recursion, budget and reveal points."""

from __future__ import annotations

import itertools
import random
from typing import Any

from personas.lore.activation import ScanMessage, activate
from personas.lore.compiled import CompiledBook, compile_book
from personas.models import Lorebook, LoreEntry

_ids = itertools.count(1)


def book(*entries: LoreEntry, **fields: Any) -> CompiledBook:
    lorebook = Lorebook(pk=next(_ids), name=fields.pop("name", "Roshar"), **fields)
    for entry in entries:
        entry.book = lorebook
    return compile_book(lorebook, entries)


def entry(**fields: Any) -> LoreEntry:
    fields.setdefault("content", f"Fact {fields.get('keys', ['constant'])[0]}.")
    return LoreEntry(pk=next(_ids), **fields)


def said(*texts: str) -> list[ScanMessage]:
    roles = itertools.cycle(["user", "assistant"])
    return [ScanMessage(role=next(roles), text=text) for text in texts]


def joined(books: list[CompiledBook], history: list[ScanMessage], **options: Any) -> list[str]:
    options.setdefault("read_through", "wind-and-truth")
    options.setdefault("count_tokens", lambda text: len(text) // 4 + 1)
    options.setdefault("room", 100_000)
    result = activate(books, history, **options)
    return [a.entry.label for a in result.injected]


def test_a_key_in_the_scanned_messages_brings_its_entry_in_once() -> None:
    lore = book(entry(keys=["Shardblade"]), entry(keys=["Honorblade"]))
    assert joined([lore], said("A shardblade! Another Shardblade!")) == ["Shardblade"]


def test_only_the_last_scan_depth_messages_are_searched() -> None:
    lore = book(entry(keys=["Bridge Four"]), scan_depth=2)
    assert joined([lore], said("Bridge Four", "hello", "again")) == []
    assert joined([lore], said("hello", "Bridge Four", "again")) == ["Bridge Four"]


def test_case_sensitivity_and_whole_words() -> None:
    lore = book(
        entry(name="sensitive", keys=["Kal"], case_sensitive=True),
        entry(name="whole", keys=["storm"], match_whole_words=True),
    )
    assert joined([lore], said("kal weathered the stormlight")) == []
    assert joined([lore], said("Kal in the storm")) == ["sensitive", "whole"]


def test_regex_keys_and_a_broken_pattern_that_never_matches() -> None:
    lore = book(
        entry(name="regex", keys=[r"/high\s*storms?/i"]),
        entry(name="broken", keys=["(unclosed"], use_regex=True),
    )
    assert joined([lore], said("The HIGHSTORM comes")) == ["regex"]


def test_selective_logic_follows_sillytavern() -> None:
    def logic(name: str) -> LoreEntry:
        return entry(
            name=name, keys=["Szeth"], secondary_keys=["Honorblade", "truthless"],
            selective=True, selective_logic=name,
        )  # fmt: skip

    lore = book(*(logic(name) for name in ["and_any", "and_all", "not_any", "not_all"]))
    assert joined([lore], said("Szeth")) == ["not_any", "not_all"]
    assert joined([lore], said("Szeth, Honorblade")) == ["and_any", "not_all"]
    assert joined([lore], said("Szeth, Honorblade, truthless")) == ["and_any", "and_all"]


def test_additional_and_excluded_keys_from_decorators() -> None:
    lore = book(entry(keys=["spren"], content="@@additional_keys Syl\n@@exclude_keys Pattern\nx"))
    assert joined([lore], said("a spren")) == []
    assert joined([lore], said("Syl is a spren")) == ["spren"]
    assert joined([lore], said("Syl and Pattern are spren")) == []


def test_constant_entries_always_join_and_empty_or_disabled_ones_never() -> None:
    lore = book(
        entry(name="always", constant=True),
        entry(name="empty", keys=["Roshar"], content="@@depth 2\n"),
        entry(name="off", keys=["Roshar"], enabled=False),
    )
    assert joined([lore], said("Roshar")) == ["always"]


def test_activate_and_dont_activate_decorators() -> None:
    lore = book(
        entry(name="forced", keys=["nothing said"], content="@@activate\nx"),
        entry(name="never", keys=["Roshar"], content="@@dont_activate\nx"),
    )
    assert joined([lore], said("Roshar")) == ["forced"]


def test_recursion_follows_entry_text_up_to_the_step_limit() -> None:
    chain = [
        entry(name="a", keys=["Dalinar"], content="Dalinar bonded the Stormfather."),
        entry(name="b", keys=["Stormfather"], content="The Stormfather is Honor's splinter."),
        entry(name="c", keys=["Honor"], content="Honor was a Shard."),
    ]
    assert joined([book(*chain, recursive_scanning=False)], said("Dalinar")) == ["a"]
    limited = book(*chain, recursive_scanning=True, recursion_steps=1)
    assert joined([limited], said("Dalinar")) == ["a", "b"]
    full = book(*chain, recursive_scanning=True, recursion_steps=5)
    assert joined([full], said("Dalinar")) == ["a", "b", "c"]


def test_entries_revealed_later_never_join_whatever_is_typed() -> None:
    lore = book(
        entry(name="spoiler", keys=["Moash"], reveal="words-of-radiance"),
        entry(name="known", keys=["Moash"]),
    )
    early = joined([lore], said("Moash"), read_through="the-way-of-kings")
    later = joined([lore], said("Moash"), read_through="oathbringer")
    assert (early, later) == (["known"], ["spoiler", "known"])


def test_the_budget_keeps_higher_priority_then_higher_order_and_reports_the_rest() -> None:
    text = "x" * 396  # 100 tokens each with the test's count
    lore = book(
        entry(name="low", keys=["Roshar"], content=text, priority=1, insertion_order=300),
        entry(name="high", keys=["Roshar"], content=text, priority=5, insertion_order=100),
        entry(name="mid", keys=["Roshar"], content=text, priority=1, insertion_order=200),
        token_budget=250,
    )
    result = activate(
        [lore], said("Roshar"), read_through="", count_tokens=lambda t: len(t) // 4 + 1,
        room=10_000,
    )  # fmt: skip
    assert [a.entry.label for a in result.injected] == ["high", "low"]  # in insertion order
    assert [a.entry.label for a in result.dropped] == ["mid"]
    assert result.injected[0].record() == {
        "book": "Roshar", "entry": "high", "key": "Roshar", "id": result.injected[0].entry.id,
        "why": "key",
    }  # fmt: skip


def test_the_prompts_room_caps_lore_too() -> None:
    lore = book(entry(name="big", keys=["Roshar"], content="x" * 4000), token_budget=100_000)
    assert joined([lore], said("Roshar"), room=50) == []


def reply(*records: dict[str, Any]) -> ScanMessage:
    return ScanMessage(role="assistant", text="...", lore=list(records))


def test_sticky_keeps_an_entry_for_turns_then_cooldown_holds_it_out() -> None:
    fact = entry(name="fact", keys=["Parshendi"], sticky=2, cooldown=2)
    lore = book(fact)
    started = {"id": fact.pk, "why": "key"}
    stuck = {"id": fact.pk, "why": "sticky"}
    # Joined on turn 0; turns 1 and 2 keep it without the key; 3 and 4 cool down.
    assert joined([lore], [reply(started), ScanMessage("user", "hi")]) == ["fact"]
    history = [reply(started), reply(stuck), reply(stuck), ScanMessage("user", "Parshendi")]
    assert joined([lore], history) == []
    history = [reply(started), reply(stuck), reply(stuck), reply(), reply()]
    assert joined([lore], [*history, ScanMessage("user", "Parshendi")]) == ["fact"]


def test_delay_and_activate_only_after_count_replies() -> None:
    lore = book(
        entry(name="delayed", keys=["Jasnah"], delay=2),
        entry(name="after", keys=["Jasnah"], content="@@activate_only_after 1\nx"),
        entry(name="every", keys=["Jasnah"], content="@@activate_only_every 2\nx"),
    )
    asked = ScanMessage("user", "Jasnah")
    assert joined([lore], [asked]) == ["every"]  # turn 0
    assert joined([lore], [reply(), asked]) == ["after"]  # turn 1
    assert joined([lore], [reply(), reply(), asked]) == ["delayed", "after", "every"]


def test_keep_and_dont_activate_after_match() -> None:
    keep = entry(name="keep", keys=["Shallan"], content="@@keep_activate_after_match\nx")
    once = entry(name="once", keys=["Shallan"], content="@@dont_activate_after_match\nx")
    lore = book(keep, once)
    before = [reply({"id": keep.pk, "why": "key"}, {"id": once.pk, "why": "key"})]
    assert joined([lore], [*before, ScanMessage("user", "nothing")]) == ["keep"]


def test_probability_rolls_for_each_match() -> None:
    lore = book(entry(name="rare", keys=["Wit"], probability=30))
    rolls = [bool(joined([lore], said("Wit"), rng=random.Random(seed))) for seed in range(200)]
    assert 30 < sum(rolls) < 90


def test_ignore_on_max_context_drops_the_entry_when_the_prompt_is_full() -> None:
    lore = book(entry(name="extra", keys=["Roshar"], content="@@ignore_on_max_context\nx"))
    assert joined([lore], said("Roshar"), at_max_context=True) == []
    assert joined([lore], said("Roshar")) == ["extra"]
