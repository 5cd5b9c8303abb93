"""The admin's test box: paste a message, see which entries of a book fire, and why."""

from __future__ import annotations

from dataclasses import dataclass

from personas.lore import series
from personas.lore.activation import ScanMessage, activate
from personas.lore.compiled import compile_book, compile_entry
from personas.lore.matching import ScanText
from personas.models import Lorebook


@dataclass(frozen=True)
class Verdict:
    """One entry's outcome for the pasted text."""

    entry: str
    fired: bool
    reason: str


def estimate_tokens(text: str) -> int:
    """The estimate HTTP backends use: a token per four characters."""
    return len(text) // 4 + 1


def lorebook_try(book: Lorebook, *, text: str, read_through: str) -> list[Verdict]:
    """Every entry of ``book`` against ``text`` as the user's newest message, in insertion
    order: what joined (by which key, or why), what the budget left out, and why the rest
    did not fire."""
    entries = list(book.entries.all())
    compiled = compile_book(book, entries)
    result = activate(
        [compiled],
        [ScanMessage(role="user", text=text)],
        read_through=read_through,
        count_tokens=estimate_tokens,
        room=book.token_budget,
    )
    by_id = {one.id: one for one in compiled.entries}
    joined = {a.entry.id: a for a in result.injected}
    dropped = {a.entry.id for a in result.dropped}
    scanned = ScanText.of(text)
    verdicts = []
    for entry in sorted(entries, key=lambda e: (e.insertion_order, e.pk)):
        one = by_id.get(entry.pk) or compile_entry(entry, book.name)  # disabled or empty
        if entry.pk in joined:
            found = joined[entry.pk]
            why = f"key “{found.key}”" if found.why == "key" else found.why
            verdicts.append(Verdict(entry.label, True, f"joins the prompt: {why}"))
        elif entry.pk in dropped:
            verdicts.append(Verdict(entry.label, False, "matched, but over the token budget"))
        elif not entry.enabled:
            verdicts.append(Verdict(entry.label, False, "disabled"))
        elif not one.text:
            verdicts.append(Verdict(entry.label, False, "no text to add"))
        elif not series.is_revealed(one.reveal, read_through):
            title = series.book_title(one.reveal) or one.reveal
            verdicts.append(Verdict(entry.label, False, f"a spoiler until {title}"))
        elif one.blocked:
            verdicts.append(Verdict(entry.label, False, "@@dont_activate"))
        elif not any(key.found_in(scanned) for key in one.keys):
            verdicts.append(Verdict(entry.label, False, "no key in the text"))
        else:
            verdicts.append(
                Verdict(
                    entry.label,
                    False,
                    "a key matched, but a secondary-key or timing rule held it back",
                )
            )
    return verdicts
