"""Typed parsing at the edge: frames, forms and query strings become typed values, or a
named error (``bad_request``, ``invalid_content``) before any action sees them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from chat.errors import BadRequest, InvalidContent
from stormchat.text import without_nul

# Ids and positions are positive 32-bit numbers on every database we run on.
MAX_ID = 2**31 - 1


def text_input(value: object, *, what: str = "A message") -> str:
    """The value if it is text; InvalidContent otherwise."""
    if not isinstance(value, str):
        raise InvalidContent(f"{what} must be text.")
    return value


def slug_input(value: object, *, required: bool = True, what: str = "persona") -> str | None:
    """A persona's slug (short text); None when it may be left out and is."""
    if (value is None or value == "") and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 60:
        raise BadRequest(f'{what} must be a persona\'s slug, such as "shallan".')
    return without_nul(value)  # NUL is in no slug, and can't be stored anywhere


def slug_list(value: object, *, what: str, most: int = 20) -> list[str]:
    """A JSON list of persona slugs, at most ``most`` of them (a form's one value, or its
    empty ones, as a page sends them, count too); BadRequest otherwise."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or len(items) > most:
        raise BadRequest(f"{what} must be a list of at most {most} persona slugs.")
    return [slug for item in items if item != "" and (slug := slug_input(item, what=what))]


def attachment_ids(value: object, *, most: int = 32) -> list[uuid.UUID]:
    """Attachment ids: a list of them (JSON), one (a form with a single file), or none."""
    if value is None or value == "":
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or len(items) > most:
        raise BadRequest(f"attachments must be a list of at most {most} ids.")
    try:
        return list(dict.fromkeys(uuid.UUID(str(item)) for item in items if item != ""))
    except ValueError:
        raise BadRequest("attachments must be attachment ids.") from None


def number_list(value: object, *, what: str, most: int = 100) -> list[int]:
    """A JSON list of whole numbers (ids), at most ``most`` of them; BadRequest otherwise."""
    if not isinstance(value, list) or len(value) > most:
        raise BadRequest(f"{what} must be a list of at most {most} numbers.")
    return [number_input(item, what=what) for item in value]


def number_input(value: object, *, what: str, low: int = 1, high: int = MAX_ID) -> int:
    """A whole number from JSON (an integer) or a form or query (ASCII digits, with an
    optional minus sign), within [low, high]; BadRequest otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _is_digits(value.removeprefix("-")):
        number = int(value)
    else:
        raise BadRequest(f"{what} must be a whole number.")
    if not low <= number <= high:
        raise BadRequest(f"{what} must be between {low:,} and {high:,}.")
    return number


def optional_number(
    value: str | None, *, what: str, low: int = 1, high: int = MAX_ID
) -> int | None:
    """``number_input`` for an optional query parameter: missing or empty is None."""
    if value is None or value == "":
        return None
    return number_input(value, what=what, low=low, high=high)


def _is_digits(text: str) -> bool:
    # isdecimal() alone accepts other scripts' digits (and "²" is not decimal but is a
    # digit); int() of 5,000 digits is slow. ASCII and short only.
    return 0 < len(text) <= 12 and text.isascii() and text.isdecimal()


def flag_input(value: object, *, what: str) -> bool:
    """A yes or no from JSON (true/false) or a form ("1"/"0", "on", "true"/"false", and
    an empty field for no)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "on", "true", "yes"):
        return True
    if isinstance(value, str) and value.lower() in ("", "0", "off", "false", "no"):
        return False
    raise BadRequest(f"{what} must be true or false.")


def settings_input(data: Mapping[str, Any]) -> dict[str, Any]:
    """The chat settings a frame, form or JSON body changes, checked, as keyword arguments
    of ``actions.chat_set_settings``: ``authors_note``, ``authors_note_depth``,
    ``user_persona`` (null or empty: yourself) and ``auto_read``. Keys left out stay as
    they are."""
    fields: dict[str, Any] = {}
    if data.get("authors_note") is not None:
        fields["authors_note"] = text_input(data["authors_note"], what="authors_note")
    if data.get("authors_note_depth") not in (None, ""):
        depth = data["authors_note_depth"]
        fields["authors_note_depth"] = number_input(depth, what="authors_note_depth", low=0)
    if data.get("auto_read") not in (None, ""):
        fields["auto_read"] = flag_input(data["auto_read"], what="auto_read")
    if "user_persona" in data:
        chosen = data["user_persona"]
        fields["user_persona_id"] = (
            None if chosen in (None, "") else number_input(chosen, what="user_persona")
        )
    return fields


def scene_input(data: Mapping[str, Any]) -> dict[str, Any]:
    """A scene's changes from a frame or a PATCH: ``personas`` and ``muted`` (lists of
    slugs) and ``activation``; only those given."""
    scene: dict[str, Any] = {}
    for key in ("personas", "muted"):
        if key in data:
            scene[key] = slug_list(data[key], what=key)
    if "activation" in data:
        scene["activation"] = text_input(data["activation"], what="activation")
    return scene
