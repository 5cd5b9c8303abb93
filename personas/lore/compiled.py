"""Books ready to scan: entries with their decorators read and their keys compiled, once per
book revision, and kept in a small process-wide cache."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from personas.lore import decorators
from personas.lore.matching import Key, Needles, compile_keys
from personas.models import Lorebook, LoreEntry

# Books kept compiled per process (a book is a few hundred KB at most once compiled).
CACHE_BOOKS = 64


@dataclass(frozen=True)
class CompiledEntry:
    id: int
    book: str
    label: str
    text: str  # the content without its decorators
    keys: tuple[Key, ...]
    # The plain words of ``keys``, when every key is one (None: a regex key needs its own
    # search): an entry none of whose words is in the text can't match by its keys.
    needles: frozenset[str] | None
    secondary: tuple[Key, ...]
    logic: str
    additional: tuple[Key, ...]
    excluded: tuple[Key, ...]
    constant: bool
    position: str  # a LoreEntry.Position, or "personality" / "scenario" from @@position
    depth: int
    role: str
    insertion_order: int
    priority: int
    probability: int
    sticky: int
    cooldown: int
    delay: int
    scan_depth: int | None
    only_after: int | None
    only_every: int | None
    keep_after_match: bool
    dont_after_match: bool
    forced: bool
    blocked: bool
    ignore_on_max_context: bool
    reveal: str


@dataclass(frozen=True)
class CompiledBook:
    id: int
    name: str
    scan_depth: int
    token_budget: int
    recursion_steps: int  # 0 when the book doesn't scan recursively
    entries: tuple[CompiledEntry, ...]
    needles: Needles


def compile_entry(entry: LoreEntry, book_name: str) -> CompiledEntry:
    """One entry, its decorators applied over its fields."""
    decorated = decorators.parse(entry.content)
    compiled_keys = {
        "use_regex": entry.use_regex,
        "case_sensitive": entry.case_sensitive,
        "whole_words": entry.match_whole_words,
    }
    position = entry.position
    depth = entry.depth
    if decorated.has("position"):
        position = decorators.POSITIONS[decorated.values["position"]]
    elif decorated.has("depth"):
        position, depth = LoreEntry.Position.AT_DEPTH, max(decorated.number("depth") or 0, 0)
    keys = compile_keys(entry.keys, **compiled_keys)
    return CompiledEntry(
        id=entry.pk,
        book=book_name,
        label=entry.label,
        text=decorated.text.strip(),
        keys=keys,
        needles=frozenset(k.needle for k in keys) if all(k.needle for k in keys) else None,
        secondary=compile_keys(entry.secondary_keys, **compiled_keys) if entry.selective else (),
        logic=entry.selective_logic,
        additional=compile_keys(decorated.words("additional_keys"), **compiled_keys),
        excluded=compile_keys(decorated.words("exclude_keys"), **compiled_keys),
        constant=entry.constant,
        position=position,
        depth=depth,
        role=decorated.values.get("role") or entry.role,
        insertion_order=entry.insertion_order,
        priority=entry.priority,
        probability=entry.probability,
        sticky=entry.sticky,
        cooldown=entry.cooldown,
        delay=entry.delay,
        scan_depth=decorated.number("scan_depth")
        if decorated.has("scan_depth")
        else entry.scan_depth,
        only_after=decorated.number("activate_only_after"),
        only_every=decorated.number("activate_only_every"),
        keep_after_match=decorated.has("keep_activate_after_match"),
        dont_after_match=decorated.has("dont_activate_after_match"),
        forced=decorated.has("activate"),
        blocked=decorated.has("dont_activate") and not decorated.has("activate"),
        ignore_on_max_context=decorated.has("ignore_on_max_context"),
        reveal=entry.reveal or decorated.values.get("x_reveal", ""),
    )


def compile_book(book: Lorebook, entries: Iterable[LoreEntry]) -> CompiledBook:
    """The book's enabled entries with text, compiled."""
    compiled = tuple(
        entry for entry in (compile_entry(e, book.name) for e in entries if e.enabled) if entry.text
    )
    keys = (
        key
        for entry in compiled
        for key in (*entry.keys, *entry.secondary, *entry.additional, *entry.excluded)
    )
    return CompiledBook(
        id=book.pk,
        name=book.name,
        scan_depth=book.scan_depth,
        token_budget=book.token_budget,
        recursion_steps=book.recursion_steps if book.recursive_scanning else 0,
        entries=compiled,
        needles=Needles(keys),
    )


class _Cache:
    def __init__(self) -> None:
        self.books: OrderedDict[tuple[int, int], CompiledBook] = OrderedDict()
        self.lock = threading.Lock()


_cache = _Cache()


def compiled_books(books: Iterable[Lorebook]) -> list[CompiledBook]:
    """These books compiled, from the cache when their revision hasn't changed (blocking:
    reads the entries of a book the cache doesn't have)."""
    result: list[CompiledBook] = []
    for book in books:
        key = (book.pk, book.revision)
        with _cache.lock:
            hit = _cache.books.get(key)
            if hit is not None:
                _cache.books.move_to_end(key)
        if hit is None:
            hit = compile_book(book, book.entries.all())
            with _cache.lock:
                _cache.books[key] = hit
                while len(_cache.books) > CACHE_BOOKS:
                    _cache.books.popitem(last=False)
        result.append(hit)
    return result
