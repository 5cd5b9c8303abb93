"""Keys compiled once per book revision: how an entry's words are looked for in the chat.

Every plain key of a book goes into one Aho-Corasick automaton (pyahocorasick), so a scan
finds all of them present in one pass over the text, however many entries the book has;
a key is then a set lookup. A whole-word key must be present that way before its pattern
checks the word boundaries. Regex keys (``use_regex``, or SillyTavern's ``/pattern/flags``)
run on the ``regex`` module with a time limit: a pattern that can't be compiled, or that
runs too long, never matches.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import ahocorasick
import regex

logger = logging.getLogger(__name__)

REGEX_TIMEOUT_SECONDS = 0.05
_SLASHED = re.compile(r"^/(.+)/([a-z]*)$", re.DOTALL)
_FLAGS = {"i": regex.IGNORECASE, "s": regex.DOTALL, "m": regex.MULTILINE, "u": 0, "g": 0}


@dataclass(frozen=True)
class ScanText:
    """The text one scan searches, as written and lowered (each made once), and the
    needles of each book found in it (found once per book)."""

    raw: str
    lower: str
    found: dict[int, Found] = field(default_factory=dict)

    @classmethod
    def of(cls, text: str) -> ScanText:
        return cls(text, text.lower())


@dataclass(frozen=True)
class Found:
    """A book's needles present in a text: anywhere, and as whole words (in the lowered
    text for keys that ignore case, in the text as written for the others)."""

    folded: frozenset[str]
    folded_words: frozenset[str]
    exact: frozenset[str]
    exact_words: frozenset[str]
    # Every needle found, whatever its case rule or word boundaries.
    anywhere: frozenset[str]


class Needles:
    """The plain needles of a book's keys, found in a text in one pass."""

    def __init__(self, keys: Iterable[Key]) -> None:
        keys = tuple(keys)
        self.folded = _automaton(k.needle for k in keys if k.needle and not k.case_sensitive)
        self.exact = _automaton(k.needle for k in keys if k.needle and k.case_sensitive)

    def present(self, text: ScanText) -> Found:
        """The needles in this text (searched once per text)."""
        found = text.found.get(id(self))
        if found is None:
            folded, folded_words = _search(self.folded, text.lower)
            exact, exact_words = _search(self.exact, text.raw)
            found = Found(folded, folded_words, exact, exact_words, folded | exact)
            text.found[id(self)] = found
        return found


def _automaton(needles: Iterable[str]) -> ahocorasick.Automaton | None:
    automaton = ahocorasick.Automaton()
    for needle in set(needles):
        automaton.add_word(needle, needle)
    if not len(automaton):
        return None
    automaton.make_automaton()
    return automaton


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _search(
    automaton: ahocorasick.Automaton | None, text: str
) -> tuple[frozenset[str], frozenset[str]]:
    """(needles anywhere in the text, needles with no word character either side)."""
    if automaton is None or not text:
        return frozenset(), frozenset()
    anywhere: set[str] = set()
    words: set[str] = set()
    last = len(text) - 1
    for end, needle in automaton.iter(text):
        anywhere.add(needle)
        start = end - len(needle) + 1
        if (start == 0 or not _is_word_char(text[start - 1])) and (
            end == last or not _is_word_char(text[end + 1])
        ):
            words.add(needle)
    return frozenset(anywhere), frozenset(words)


@dataclass(frozen=True)
class Key:
    """One compiled key; ``label`` is the key as written (for the inspector)."""

    label: str
    needle: str = ""
    case_sensitive: bool = False
    whole_words: bool = False
    pattern: regex.Pattern[str] | None = None
    broken: bool = False

    def found_in(self, text: ScanText, needles: Needles | None = None) -> bool:
        """Whether the key is in the text (``needles``: its book's, already searched)."""
        if self.needle:
            if needles is not None:
                found = needles.present(text)
                if self.whole_words:
                    words = found.exact_words if self.case_sensitive else found.folded_words
                    return self.needle in words
                return self.needle in (found.exact if self.case_sensitive else found.folded)
            if self.needle not in (text.raw if self.case_sensitive else text.lower):
                return False
        if self.pattern is None:
            return not self.broken
        try:
            return self.pattern.search(text.raw, timeout=REGEX_TIMEOUT_SECONDS) is not None
        except TimeoutError:
            logger.warning("lore key %r took too long and was skipped", self.label)
            return False


def compile_key(
    key: str, *, use_regex: bool, case_sensitive: bool, whole_words: bool
) -> Key | None:
    """The key ready to search with (None for a blank key)."""
    if not key.strip():
        return None
    slashed = _SLASHED.match(key.strip())
    if use_regex or slashed:
        source, flags = (slashed.group(1), slashed.group(2)) if slashed else (key, "")
        options = 0 if case_sensitive else regex.IGNORECASE
        for flag in flags:
            options |= _FLAGS.get(flag, 0)
        try:
            return Key(key, pattern=regex.compile(source, options))
        except regex.error:
            return Key(key, broken=True)
    needle = key.strip()
    if whole_words:
        options = 0 if case_sensitive else regex.IGNORECASE
        bounded = rf"(?<!\w){regex.escape(needle)}(?!\w)"
        return Key(
            key,
            needle=needle if case_sensitive else needle.lower(),
            case_sensitive=case_sensitive,
            whole_words=True,
            pattern=regex.compile(bounded, options),
        )
    if not case_sensitive:
        needle = needle.lower()
    return Key(key, needle=needle, case_sensitive=case_sensitive)


def compile_keys(
    keys: object, *, use_regex: bool, case_sensitive: bool, whole_words: bool
) -> tuple[Key, ...]:
    """Every usable key of a JSON list (anything else in the list is skipped)."""
    if not isinstance(keys, list):
        return ()
    compiled = (
        compile_key(
            str(k), use_regex=use_regex, case_sensitive=case_sensitive, whole_words=whole_words
        )
        for k in keys
        if isinstance(k, str | int | float)
    )
    return tuple(k for k in compiled if k is not None)


def first_found(
    keys: tuple[Key, ...], text: ScanText, needles: Needles | None = None
) -> Key | None:
    """The first key found in the text, or None."""
    for key in keys:
        if key.found_in(text, needles):
            return key
    return None
