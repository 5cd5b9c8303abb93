"""Character Card V3 decorators: ``@@name value`` lines at the start of an entry's content.

A decorator we don't know is ignored, and so are its ``@@@`` fallbacks only when it is known:
for an unknown one, the first fallback we know stands in for it. The first decorator of a
name wins. The decorator lines (and the blank lines around them) are stripped from the
text that joins the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Every decorator Stormchat honours, with whether it takes a value.
KNOWN: dict[str, bool] = {
    "depth": True,
    "role": True,
    "position": True,
    "scan_depth": True,
    "activate_only_after": True,
    "activate_only_every": True,
    "keep_activate_after_match": False,
    "dont_activate_after_match": False,
    "additional_keys": True,
    "exclude_keys": True,
    "activate": False,
    "dont_activate": False,
    "ignore_on_max_context": False,
    # Stormchat's own: the book where the entry's fact is revealed (see personas.lore.series).
    "x_reveal": True,
}
ROLES = {"system", "user", "assistant"}
# @@position values, and where they put the content.
POSITIONS = {
    "before_desc": "before_char",
    "after_desc": "after_char",
    "personality": "personality",
    "scenario": "scenario",
}
MAX_FALLBACKS = 8


@dataclass
class Decorated:
    """An entry's content split into its decorators and the text that joins the prompt."""

    text: str
    values: dict[str, str] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.values

    def number(self, name: str) -> int | None:
        """A decorator's value as a whole number (None if absent or not a number)."""
        raw = self.values.get(name, "").strip()
        try:
            return int(raw)
        except ValueError:
            return None

    def words(self, name: str) -> list[str]:
        """A decorator's comma-separated values."""
        return [part.strip() for part in self.values.get(name, "").split(",") if part.strip()]


def _valid(name: str, value: str) -> bool:
    if name not in KNOWN:
        return False
    if not KNOWN[name]:
        return True
    if name in {"depth", "scan_depth", "activate_only_after", "activate_only_every"}:
        try:
            int(value.strip())
        except ValueError:
            return False
        return True
    if name == "role":
        return value.strip() in ROLES
    if name == "position":
        return value.strip() in POSITIONS
    return bool(value.strip())


def parse(content: str) -> Decorated:
    """Read the decorator lines at the top of ``content``."""
    if not content.lstrip().startswith("@@"):
        return Decorated(content)
    lines = content.lstrip("\n").split("\n")
    values: dict[str, str] = {}
    pending = False  # the last @@ decorator was not usable: a fallback may stand in
    fallbacks = 0
    index = 0
    for index, line in enumerate(lines):  # noqa: B007
        stripped = line.strip()
        if not stripped.startswith("@@"):
            break
        is_fallback = stripped.startswith("@@@")
        name, _, value = stripped.lstrip("@").partition(" ")
        if is_fallback:
            fallbacks += 1
            if not pending or fallbacks > MAX_FALLBACKS:
                continue
        else:
            fallbacks = 0
        usable = _valid(name, value) and name not in values
        if usable:
            values[name] = value.strip()
        pending = not usable if not is_fallback else (pending and not usable)
    else:
        index = len(lines)
    return Decorated("\n".join(lines[index:]).strip("\n"), values)


def without(content: str, *names: str) -> str:
    """``content`` without the named decorators and the fallbacks that follow them."""
    lines = content.split("\n")
    kept: list[str] = []
    skipping = False
    for position, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("@@"):
            kept.extend(lines[position:])
            break
        if stripped.startswith("@@@"):
            if not skipping:
                kept.append(line)
            continue
        skipping = stripped[2:].partition(" ")[0] in names
        if not skipping:
            kept.append(line)
    return "\n".join(kept)
