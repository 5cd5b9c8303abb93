"""Text that every database can store."""

from __future__ import annotations

from typing import Any


def without_nul(value: Any) -> Any:
    """The value with NUL characters removed from every string in it (lists and dicts too).

    PostgreSQL's text and jsonb types cannot hold U+0000, and SQLite silently accepts it,
    so text from people, models or cards is cleaned on the way in, whatever the database.
    """
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    return value
