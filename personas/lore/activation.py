"""Which entries join a prompt, following the Character Card V3 lorebook rules.

- Keys are searched in the last ``scan_depth`` messages (the entry's own depth if it has
  one); secondary keys combine by SillyTavern's logic, ``@@additional_keys`` must also
  appear and ``@@exclude_keys`` must not.
- A recursive book scans the text of the entries that joined, round after round, up to its
  step limit.
- An entry joins at most once, and never with empty text. Entries revealed after the point
  the reader has reached never join, however they would match.
- Timing is counted in turns (the chat's replies so far): ``delay``, ``sticky`` and
  ``cooldown``, and the ``@@activate_only_after`` / ``@@activate_only_every`` /
  ``@@keep_activate_after_match`` / ``@@dont_activate_after_match`` decorators. What joined
  each earlier prompt is read from the replies' own lore records, so there is no state to
  keep in sync.
- Each book's token budget is spent by priority (highest first), then insertion order
  (highest first, as SillyTavern and CCv3 drop the lowest first); the total is also held
  to the room the prompt has. What the budget drops is reported.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from personas.lore import series
from personas.lore.compiled import CompiledBook, CompiledEntry
from personas.lore.matching import Key, Needles, ScanText, first_found
from personas.models import LoreEntry
from stormchat.chance import CHANCE

# However deep a book scans, at most this much of the newest chat text is searched.
MAX_SCAN_CHARS = 100_000
Logic = LoreEntry.Logic


@dataclass(frozen=True)
class ScanMessage:
    """A message as the scan sees it: who wrote it, its text, and (for a reply) the lore
    record of its prompt."""

    role: str
    text: str
    lore: Sequence[dict[str, object]] = ()


@dataclass(frozen=True)
class Activated:
    """An entry that matched, and why: the key, or constant / sticky / kept / decorator /
    recursion."""

    entry: CompiledEntry
    key: str
    why: str

    def record(self) -> dict[str, object]:
        """The inspector's line for this entry."""
        return {
            "book": self.entry.book,
            "entry": self.entry.label,
            "key": self.key,
            "id": self.entry.id,
            "why": self.why,
        }


@dataclass
class Activation:
    """What joins the prompt (in insertion order) and what the budget dropped."""

    injected: list[Activated] = field(default_factory=list)
    dropped: list[Activated] = field(default_factory=list)

    def at(self, position: str) -> list[Activated]:
        return [a for a in self.injected if a.entry.position == position]


@dataclass
class _History:
    """The chat so far, as timing and scanning need it."""

    messages: Sequence[ScanMessage]
    turn: int = 0  # replies so far: the turn this prompt is for
    starts: dict[int, list[int]] = field(default_factory=dict)  # entry id -> turns it joined
    present: dict[int, list[int]] = field(default_factory=dict)  # ...including sticky turns
    texts: dict[int, ScanText] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for message in self.messages:
            if message.role != "assistant":
                continue
            for line in message.lore:
                entry_id = line.get("id")
                if isinstance(entry_id, int):
                    self.present.setdefault(entry_id, []).append(self.turn)
                    if line.get("why") != "sticky":
                        self.starts.setdefault(entry_id, []).append(self.turn)
            self.turn += 1

    def text(self, depth: int) -> ScanText:
        """The newest ``depth`` messages, joined (made once per depth)."""
        if depth not in self.texts:
            newest = self.messages[-depth:] if depth > 0 else []
            joined = "\n".join(m.text for m in newest)[-MAX_SCAN_CHARS:]
            self.texts[depth] = ScanText.of(joined)
        return self.texts[depth]


def _secondary_ok(entry: CompiledEntry, text: ScanText, needles: Needles) -> bool:
    if not entry.secondary:
        return True
    found = [key.found_in(text, needles) for key in entry.secondary]
    if entry.logic == Logic.AND_ALL:
        return all(found)
    if entry.logic == Logic.NOT_ANY:
        return not any(found)
    if entry.logic == Logic.NOT_ALL:
        return not all(found)
    return any(found)


def _keys_match(entry: CompiledEntry, text: ScanText, needles: Needles) -> Key | None:
    """The primary key that matched, if every key condition holds."""
    key = first_found(entry.keys, text, needles)
    if key is None or not _secondary_ok(entry, text, needles):
        return None
    if entry.additional and first_found(entry.additional, text, needles) is None:
        return None
    if entry.excluded and first_found(entry.excluded, text, needles) is not None:
        return None
    return key


def _rolls(entry: CompiledEntry, rng: random.Random) -> bool:
    """Whether a match joins, by the entry's probability."""
    return entry.probability >= 100 or rng.random() * 100 < entry.probability


def _timing(entry: CompiledEntry, history: _History) -> str:
    """'sticky' or 'kept' if the entry stays in regardless of keys, 'blocked' if timing
    rules it out, '' if it is up to its keys."""
    turn = history.turn
    starts = history.starts.get(entry.id, [])
    if starts and entry.dont_after_match:
        return "blocked"
    if starts and entry.keep_after_match:
        return "kept"
    if starts and entry.sticky and turn - starts[-1] <= entry.sticky:
        return "sticky"
    if starts and entry.cooldown:
        cooling_from = starts[-1] + entry.sticky
        if cooling_from < turn <= cooling_from + entry.cooldown:
            return "blocked"
    if turn < entry.delay or (entry.only_after is not None and turn < entry.only_after):
        return "blocked"
    if entry.only_every and turn % entry.only_every:
        return "blocked"
    return ""


def _unmatched(entry: CompiledEntry, book: CompiledBook, history: _History) -> bool:
    """Whether the entry can only join by its keys and none of its words is in its scan
    text: most entries of a book on most turns, told apart by one set test instead of
    their keys' and timing's checks."""
    if entry.needles is None or entry.constant or entry.forced or entry.id in history.starts:
        return False
    text = history.text(entry.scan_depth or book.scan_depth)
    return entry.needles.isdisjoint(book.needles.present(text).anywhere)


def _candidate(
    entry: CompiledEntry, book: CompiledBook, history: _History, rng: random.Random
) -> Activated | None:
    """The entry, if it joins on this turn's scan (before recursion and budget)."""
    if entry.blocked or _unmatched(entry, book, history):
        return None
    if entry.forced:
        return Activated(entry, "", "decorator")
    timing = _timing(entry, history)
    if timing == "blocked":
        return None
    if timing:
        return Activated(entry, "", timing)
    if entry.constant:
        found = Activated(entry, "", "constant")
    else:
        text = history.text(entry.scan_depth or book.scan_depth)
        key = _keys_match(entry, text, book.needles)
        if key is None:
            return None
        found = Activated(entry, key.label, "key")
    return found if _rolls(entry, rng) else None


def activate(
    books: Sequence[CompiledBook],
    history: Sequence[ScanMessage],
    *,
    read_through: str,
    count_tokens: Callable[[str], int],
    room: int,
    at_max_context: bool = False,
    rng: random.Random | None = None,
) -> Activation:
    """The entries of ``books`` that join the prompt for the next reply to ``history``."""
    rng = rng or CHANCE
    past = _History(history)
    joined: dict[int, Activated] = {}
    owner: dict[int, CompiledBook] = {}
    eligible: list[tuple[CompiledEntry, CompiledBook]] = []
    for book in books:
        for entry in book.entries:
            if entry.id in owner or not series.is_revealed(entry.reveal, read_through):
                continue
            owner[entry.id] = book
            eligible.append((entry, book))
    for entry, book in eligible:
        found = _candidate(entry, book, past, rng)
        if found is not None:
            joined[entry.id] = found
    _recurse(eligible, joined, rng)
    return _spend(list(joined.values()), owner, count_tokens, room, at_max_context)


def _recurse(
    eligible: list[tuple[CompiledEntry, CompiledBook]],
    joined: dict[int, Activated],
    rng: random.Random,
) -> None:
    """Let the text of joined entries trigger entries of recursive books, step by step."""
    steps = max((book.recursion_steps for _, book in eligible), default=0)
    fresh = list(joined.values())
    for step in range(1, steps + 1):
        if not fresh:
            return
        text = ScanText.of("\n".join(a.entry.text for a in fresh))
        fresh = []
        for entry, book in eligible:
            if entry.id in joined or book.recursion_steps < step or entry.blocked:
                continue
            if entry.constant or not entry.keys:
                continue
            key = _keys_match(entry, text, book.needles)
            if key is None:
                continue
            if not _rolls(entry, rng):
                continue
            joined[entry.id] = found = Activated(entry, key.label, "recursion")
            fresh.append(found)


def _spend(
    found: list[Activated],
    owner: dict[int, CompiledBook],
    count_tokens: Callable[[str], int],
    room: int,
    at_max_context: bool,
) -> Activation:
    """Admit entries within each book's budget and the prompt's room."""
    result = Activation()
    ranked = sorted(
        found,
        key=lambda a: (
            a.entry.ignore_on_max_context,
            -a.entry.priority,
            -a.entry.insertion_order,
            a.entry.id,
        ),
    )
    spent: dict[int, int] = {}
    total = 0
    for item in ranked:
        if item.entry.ignore_on_max_context and at_max_context:
            result.dropped.append(item)
            continue
        book = owner[item.entry.id]
        cost = count_tokens(item.entry.text)
        if spent.get(book.id, 0) + cost > book.token_budget or total + cost > room:
            result.dropped.append(item)
            continue
        spent[book.id] = spent.get(book.id, 0) + cost
        total += cost
        result.injected.append(item)
    result.injected.sort(key=lambda a: (a.entry.insertion_order, a.entry.id))
    return result
