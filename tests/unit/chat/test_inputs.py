"""Parsing at the edge: typed values or a named error."""

from __future__ import annotations

import pytest

from chat.errors import BadRequest, InvalidContent
from chat.inputs import MAX_ID, number_input, optional_number, text_input


@pytest.mark.parametrize("value", [7, "7", "0007"])
def test_numbers_from_json_or_forms(value: object) -> None:
    assert number_input(value, what="message_id") == 7


@pytest.mark.parametrize(
    "value", [True, None, 1.5, "", "²", "٣", "1e3", " 7", "7 ", "x", "9" * 5000, [7], {"a": 1}]
)
def test_anything_else_is_a_bad_request(value: object) -> None:
    with pytest.raises(BadRequest, match="message_id must be a whole number"):
        number_input(value, what="message_id")


@pytest.mark.parametrize("value", [0, -1, MAX_ID + 1, "99999999999"])
def test_numbers_out_of_range_are_refused(value: object) -> None:
    with pytest.raises(BadRequest, match="between"):
        number_input(value, what="message_id")


def test_negative_numbers_where_allowed() -> None:
    assert number_input("-2", what="index", low=-10) == -2


def test_optional_numbers() -> None:
    assert optional_number(None, what="before") is None
    assert optional_number("", what="before") is None
    assert optional_number("12", what="before") == 12


@pytest.mark.parametrize("value", [None, 3, ["a"], {"a": 1}])
def test_text_must_be_text(value: object) -> None:
    with pytest.raises(InvalidContent):
        text_input(value)


def test_text_passes_through() -> None:
    assert text_input("hi") == "hi"
