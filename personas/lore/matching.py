"""Keys compiled once per book revision: how an entry's words are looked for in the chat.

A plain key is a substring test on text lowered once per scan (case-sensitive keys test
the text as it is). A whole-word key and a regex key are compiled patterns. Regex keys
(``use_regex``, or SillyTavern's ``/pattern/flags``) run on the ``regex`` module with a
time limit: a pattern that can't be compiled, or that runs too long, never matches.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import regex

logger = logging.getLogger(__name__)

REGEX_TIMEOUT_SECONDS = 0.05
_SLASHED = re.compile(r"^/(.+)/([a-z]*)$", re.DOTALL)
_FLAGS = {"i": regex.IGNORECASE, "s": regex.DOTALL, "m": regex.MULTILINE, "u": 0, "g": 0}


@dataclass(frozen=True)
class ScanText:
    """The text one scan searches, as written and lowered (each made once)."""

    raw: str
    lower: str

    @classmethod
    def of(cls, text: str) -> ScanText:
        return cls(text, text.lower())


@dataclass(frozen=True)
class Key:
    """One compiled key; ``label`` is the key as written (for the inspector)."""

    label: str
    needle: str = ""
    case_sensitive: bool = False
    pattern: regex.Pattern[str] | None = None
    broken: bool = False

    def found_in(self, text: ScanText) -> bool:
        if self.broken:
            return False
        if self.pattern is not None:
            try:
                return self.pattern.search(text.raw, timeout=REGEX_TIMEOUT_SECONDS) is not None
            except TimeoutError:
                logger.warning("lore key %r took too long and was skipped", self.label)
                return False
        return self.needle in (text.raw if self.case_sensitive else text.lower)


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
    if whole_words:
        options = 0 if case_sensitive else regex.IGNORECASE
        bounded = rf"(?<!\w){regex.escape(key.strip())}(?!\w)"
        return Key(key, pattern=regex.compile(bounded, options))
    needle = key.strip()
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


def first_found(keys: tuple[Key, ...], text: ScanText) -> Key | None:
    """The first key found in the text, or None."""
    for key in keys:
        if key.found_in(text):
            return key
    return None
