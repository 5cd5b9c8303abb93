"""Typed parsing at the edge: frames, forms and query strings become typed values, or a
named error (``bad_request``, ``invalid_content``) before any action sees them."""

from __future__ import annotations

from chat.errors import BadRequest, InvalidContent

# Ids and positions are positive 32-bit numbers on every database we run on.
MAX_ID = 2**31 - 1


def text_input(value: object, *, what: str = "A message") -> str:
    """The value if it is text; InvalidContent otherwise."""
    if not isinstance(value, str):
        raise InvalidContent(f"{what} must be text.")
    return value


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
