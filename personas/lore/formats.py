"""Lorebooks as files: Character Card V3 (``lorebook_v3``, and a card's ``character_book``)
and SillyTavern's World Info JSON (entries keyed by uid).

Reading keeps every object as it came (``extra["ccv3"]`` / ``extra["st"]``); writing starts
from that and sets only the fields Stormchat knows, and only where their meaning changed,
so a book read and written in the same format comes back identical, fields Stormchat
doesn't use included. Values that CCv3 has no field for travel in an entry's
``extensions`` under SillyTavern's names (which SillyTavern reads), and the reveal point
under ``extensions.stormchat``, and as a ``@@x_reveal`` decorator with a
``@@@dont_activate`` fallback, so an app that doesn't know it never shows a spoiler.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from personas.lore import decorators, series
from personas.models import LoreEntry

Position = LoreEntry.Position
# SillyTavern's numbers for positions and selective logic.
ST_POSITIONS = {0: Position.BEFORE_CHAR, 1: Position.AFTER_CHAR, 2: Position.AUTHORS_NOTE,
                3: Position.AUTHORS_NOTE, 4: Position.AT_DEPTH}  # fmt: skip
ST_POSITION_OF = {Position.BEFORE_CHAR: 0, Position.AFTER_CHAR: 1, Position.AUTHORS_NOTE: 2,
                  Position.AT_DEPTH: 4}  # fmt: skip
ST_LOGIC = ["and_any", "not_all", "not_any", "and_all"]
ST_ROLES = ["system", "user", "assistant"]
BOOK_FIELDS = ("name", "description", "scan_depth", "token_budget", "recursive_scanning")


class LorebookFormatError(ValueError):
    """A book file that can't be read; the message says why."""


@dataclass
class BookData:
    """A book's fields and its entries' fields, as the models take them."""

    book: dict[str, Any]
    entries: list[dict[str, Any]] = field(default_factory=list)


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _int(value: object, default: int, low: int = 0, high: int = 1_000_000) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return max(low, min(int(value), high))


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int | float) and str(v).strip()]
    return []


def _st_choice(names: list[str], number: object, default: str) -> str:
    """The name SillyTavern's number stands for (``default`` for anything else)."""
    if isinstance(number, int) and not isinstance(number, bool) and 0 <= number < len(names):
        return names[number]
    return default


def _reveal_from(content: str, stormchat: object) -> tuple[str, str, int | None]:
    """The content without its reveal decorator, and the reveal point (book, chapter)."""
    chapter = None
    reveal = ""
    if isinstance(stormchat, dict):
        reveal = _text(stormchat.get("reveal"))
        chapter = stormchat.get("reveal_chapter")
    decorated = decorators.parse(content)
    if decorated.has("x_reveal"):
        reveal = reveal or decorated.values["x_reveal"]
        content = decorators.without(content, "x_reveal").lstrip("\n")
    if reveal and not series.is_book(reveal):
        reveal = ""
    return content, reveal, chapter if isinstance(chapter, int) and chapter > 0 else None


def _with_reveal(content: str, reveal: str) -> str:
    if not reveal:
        return content
    return f"@@x_reveal {reveal}\n@@@dont_activate\n{content}"


# Character Card V3 ---------------------------------------------------------------------


def read_ccv3_book(data: object) -> BookData:
    """A CCv3 Lorebook object (a card's ``character_book``, or ``lorebook_v3``'s data)."""
    if not isinstance(data, dict):
        raise LorebookFormatError("A lorebook must be a JSON object.")
    entries = data.get("entries", [])
    if not isinstance(entries, list):
        raise LorebookFormatError("A lorebook's 'entries' must be a list.")
    extensions = data.get("extensions")
    book = {
        "name": _text(data.get("name")).strip()[:200] or "Lorebook",
        "description": _text(data.get("description")),
        "scan_depth": _int(data.get("scan_depth"), 4, 0, 1000),
        "token_budget": _int(data.get("token_budget"), 1024),
        "recursive_scanning": data.get("recursive_scanning") is True,
        "extensions": extensions if isinstance(extensions, dict) else {},
        "extra": {"ccv3": copy.deepcopy({k: v for k, v in data.items() if k != "entries"})},
    }
    return BookData(book, [_ccv3_entry(entry, index) for index, entry in enumerate(entries)])


def _ccv3_entry(raw: object, index: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise LorebookFormatError(f"Entry {index + 1} of the lorebook is not an object.")
    ext = raw.get("extensions") if isinstance(raw.get("extensions"), dict) else {}
    content, reveal, chapter = _reveal_from(_text(raw.get("content")), ext.get("stormchat"))
    position = Position.AFTER_CHAR if raw.get("position") == "after_char" else Position.BEFORE_CHAR
    if isinstance(ext.get("position"), int) and ext["position"] in ST_POSITIONS:
        position = ST_POSITIONS[ext["position"]]
    logic = ext.get("selectiveLogic")
    role = ext.get("role")
    return {
        "name": _text(raw.get("name")).strip()[:200],
        "comment": _text(raw.get("comment")),
        "keys": _texts(raw.get("keys")),
        "secondary_keys": _texts(raw.get("secondary_keys")),
        "selective": raw.get("selective") is True,
        "selective_logic": _st_choice(ST_LOGIC, logic, "and_any"),
        "use_regex": raw.get("use_regex") is True,
        "case_sensitive": raw.get("case_sensitive") is True,
        "match_whole_words": ext.get("match_whole_words") is True,
        "content": content,
        "constant": raw.get("constant") is True,
        "enabled": raw.get("enabled") is not False,
        "insertion_order": _int(raw.get("insertion_order"), 100, -1_000_000),
        "priority": _int(raw.get("priority"), 0, -1_000_000),
        "position": position,
        "depth": _int(ext.get("depth"), 4, 0, 10_000),
        "role": _st_choice(ST_ROLES, role, "system"),
        "probability": _int(ext.get("probability"), 100, 0, 100)
        if ext.get("useProbability", True) is not False
        else 100,
        "sticky": _int(ext.get("sticky"), 0, 0, 10_000),
        "cooldown": _int(ext.get("cooldown"), 0, 0, 10_000),
        "delay": _int(ext.get("delay"), 0, 0, 10_000),
        "scan_depth": _int(ext.get("scan_depth"), 0, 0, 1000) or None,
        "reveal": reveal,
        "reveal_chapter": chapter,
        "external_id": _text(raw.get("id"))[:64],
        "extensions": ext,
        "extra": {"ccv3": copy.deepcopy(raw)},
    }


def write_ccv3_book(book: Any, entries: list[Any]) -> dict[str, Any]:
    """The book as a CCv3 Lorebook object, from the models."""
    original = (book.extra or {}).get("ccv3") or {}
    document = copy.deepcopy(original)
    was = read_ccv3_book({**original, "entries": []}).book if original else {}
    for name in (*BOOK_FIELDS, "extensions"):
        value = getattr(book, name)
        if not original or was.get(name) != value:
            document[name] = value
    document["entries"] = [_ccv3_entry_out(entry, index) for index, entry in enumerate(entries)]
    return document


def _ccv3_entry_out(entry: Any, index: int) -> dict[str, Any]:
    original = (entry.extra or {}).get("ccv3") or {}
    document = copy.deepcopy(original)
    was = _ccv3_entry(original, index) if original else {}

    def put(name: str, value: object, ours: str) -> None:
        if not original or was.get(ours) != getattr(entry, ours):
            document[name] = value

    side = "after_char" if entry.position == Position.AFTER_CHAR else "before_char"
    put("keys", list(entry.keys), "keys")
    put("content", _with_reveal(entry.content, entry.reveal), "content")
    if entry.reveal != was.get("reveal", ""):
        document["content"] = _with_reveal(entry.content, entry.reveal)
    put("enabled", entry.enabled, "enabled")
    put("insertion_order", entry.insertion_order, "insertion_order")
    put("case_sensitive", entry.case_sensitive, "case_sensitive")
    put("use_regex", entry.use_regex, "use_regex")
    put("constant", entry.constant, "constant")
    if entry.selective or entry.secondary_keys or "selective" in original:
        put("selective", entry.selective, "selective")
        put("secondary_keys", list(entry.secondary_keys), "secondary_keys")
    moved = "position" in original or entry.position != Position.BEFORE_CHAR
    if moved and not _same_side(original.get("position"), side):
        document["position"] = side
    for key, ours in (("name", "name"), ("comment", "comment"), ("priority", "priority")):
        if getattr(entry, ours) or key in original:
            put(key, getattr(entry, ours), ours)
    if entry.external_id or "id" in original:
        document["id"] = _original_id(original.get("id"), entry.external_id, index)
    ext = copy.deepcopy(entry.extensions or {})
    _set_st_extensions(ext, entry)
    if entry.reveal:
        stormchat = {**(ext.get("stormchat") or {}), "reveal": entry.reveal}
        if entry.reveal_chapter:
            stormchat["reveal_chapter"] = entry.reveal_chapter
        ext["stormchat"] = stormchat
    if ext or "extensions" in original:
        document["extensions"] = ext
    return document


def _same_side(original: object, side: str) -> bool:
    return (original == "after_char") == (side == "after_char")


def _original_id(original: object, external_id: str, index: int) -> object:
    if original is not None and _text(original) == external_id:
        return original
    return int(external_id) if external_id.isdigit() else external_id or index


def _set_st_extensions(ext: dict[str, Any], entry: Any) -> None:
    """Our fields that CCv3 lacks, in SillyTavern's extension names (set only where they
    differ from what the extensions already say)."""
    wanted: dict[str, Any] = {
        "position": ST_POSITION_OF[entry.position],
        "depth": entry.depth,
        "role": ST_ROLES.index(entry.role),
        "selectiveLogic": ST_LOGIC.index(entry.selective_logic),
        "match_whole_words": entry.match_whole_words,
        "probability": entry.probability,
        "useProbability": True,
        "sticky": entry.sticky,
        "cooldown": entry.cooldown,
        "delay": entry.delay,
    }
    if entry.scan_depth:
        wanted["scan_depth"] = entry.scan_depth
    defaults = {"position": 0, "depth": 4, "role": 0, "selectiveLogic": 0,
                "match_whole_words": False, "probability": 100, "useProbability": True,
                "sticky": 0, "cooldown": 0, "delay": 0}  # fmt: skip
    for key, value in wanted.items():
        current = ext.get(key)
        if key == "position" and (
            ST_POSITIONS.get(current) == entry.position
            if current in ST_POSITIONS
            else entry.position in (Position.BEFORE_CHAR, Position.AFTER_CHAR)
        ):
            continue  # said already, here or by CCv3's own before_char / after_char
        if current == value or (key not in ext and defaults.get(key) == value):
            continue
        ext[key] = value


def read_lorebook_v3(document: object) -> BookData:
    """A ``{"spec": "lorebook_v3", "data": {...}}`` file."""
    if not isinstance(document, dict) or document.get("spec") != "lorebook_v3":
        raise LorebookFormatError("This is not a CCv3 lorebook (spec 'lorebook_v3').")
    data = read_ccv3_book(document.get("data"))
    data.book["extra"]["lorebook_v3"] = {
        k: copy.deepcopy(v) for k, v in document.items() if k not in {"spec", "data"}
    }
    return data


def write_lorebook_v3(book: Any, entries: list[Any]) -> dict[str, Any]:
    top = copy.deepcopy((book.extra or {}).get("lorebook_v3") or {})
    return {"spec": "lorebook_v3", **top, "data": write_ccv3_book(book, entries)}


# SillyTavern World Info -----------------------------------------------------------------


def read_world_info(document: object, name: str = "") -> BookData:
    """SillyTavern's World Info file: ``{"entries": {"<uid>": {...}}}``."""
    if not isinstance(document, dict) or not isinstance(document.get("entries"), dict):
        raise LorebookFormatError("This is not a SillyTavern World Info file ('entries').")
    book = {
        "name": (_text(document.get("name")).strip() or name or "World Info")[:200],
        "description": _text(document.get("description")),
        "extra": {"st": {k: copy.deepcopy(v) for k, v in document.items() if k != "entries"}},
    }
    entries = [_st_entry(raw, uid) for uid, raw in document["entries"].items()]
    return BookData(book, entries)


def _st_entry(raw: object, uid: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise LorebookFormatError(f"World Info entry {uid} is not an object.")
    content, reveal, chapter = _reveal_from(
        _text(raw.get("content")),
        (raw.get("extensions") or {}).get("stormchat")
        if isinstance(raw.get("extensions"), dict)
        else None,
    )
    position = raw.get("position")
    logic = raw.get("selectiveLogic")
    role = raw.get("role")
    use_probability = raw.get("useProbability", True) is not False
    return {
        "name": _text(raw.get("comment"))[:200],
        "keys": _texts(raw.get("key")),
        "secondary_keys": _texts(raw.get("keysecondary")),
        "selective": raw.get("selective", True) is not False,
        "selective_logic": _st_choice(ST_LOGIC, logic, "and_any"),
        "case_sensitive": raw.get("caseSensitive") is True,
        "match_whole_words": raw.get("matchWholeWords") is True,
        "content": content,
        "constant": raw.get("constant") is True,
        "enabled": raw.get("disable") is not True,
        "insertion_order": _int(raw.get("order"), 100, -1_000_000),
        "position": ST_POSITIONS.get(position, Position.BEFORE_CHAR)
        if isinstance(position, int)
        else Position.BEFORE_CHAR,
        "depth": _int(raw.get("depth"), 4, 0, 10_000),
        "role": _st_choice(ST_ROLES, role, "system"),
        "probability": _int(raw.get("probability"), 100, 0, 100) if use_probability else 100,
        "sticky": _int(raw.get("sticky"), 0, 0, 10_000),
        "cooldown": _int(raw.get("cooldown"), 0, 0, 10_000),
        "delay": _int(raw.get("delay"), 0, 0, 10_000),
        "scan_depth": _int(raw.get("scanDepth"), 0, 0, 1000) or None,
        "reveal": reveal,
        "reveal_chapter": chapter,
        "external_id": _text(raw.get("uid", uid))[:64],
        "extra": {"st": copy.deepcopy(raw), "st_key": uid},
    }


def write_world_info(book: Any, entries: list[Any]) -> dict[str, Any]:
    """The book as a SillyTavern World Info file."""
    document = copy.deepcopy((book.extra or {}).get("st") or {})
    out: dict[str, Any] = {}
    for index, entry in enumerate(entries):
        extra = entry.extra or {}
        key = _text(extra.get("st_key")) or entry.external_id or str(index)
        while key in out:
            key = f"{key}_{index}"
        out[key] = _st_entry_out(entry, extra.get("st") or {}, key)
    return {**document, "entries": out}


def _st_entry_out(entry: Any, original: dict[str, Any], key: str) -> dict[str, Any]:
    document = copy.deepcopy(original)
    was = _st_entry(original, key) if original else {}

    def put(name: str, value: object, ours: str) -> None:
        if not original or was.get(ours) != getattr(entry, ours):
            document[name] = value

    uid = int(entry.external_id) if entry.external_id.isdigit() else entry.external_id or key
    if "uid" not in original:
        document["uid"] = uid
    put("key", list(entry.keys), "keys")
    put("keysecondary", list(entry.secondary_keys), "secondary_keys")
    put("comment", entry.name, "name")
    put("content", _with_reveal(entry.content, entry.reveal), "content")
    if entry.reveal != was.get("reveal"):
        document["content"] = _with_reveal(entry.content, entry.reveal)
    put("constant", entry.constant, "constant")
    put("selective", entry.selective, "selective")
    put("selectiveLogic", ST_LOGIC.index(entry.selective_logic), "selective_logic")
    put("order", entry.insertion_order, "insertion_order")
    put("position", ST_POSITION_OF[entry.position], "position")
    put("disable", not entry.enabled, "enabled")
    put("depth", entry.depth, "depth")
    put("role", ST_ROLES.index(entry.role), "role")
    put("probability", entry.probability, "probability")
    put("caseSensitive", entry.case_sensitive, "case_sensitive")
    put("matchWholeWords", entry.match_whole_words, "match_whole_words")
    put("sticky", entry.sticky, "sticky")
    put("cooldown", entry.cooldown, "cooldown")
    put("delay", entry.delay, "delay")
    if entry.scan_depth or "scanDepth" in original:
        put("scanDepth", entry.scan_depth, "scan_depth")
    return document
