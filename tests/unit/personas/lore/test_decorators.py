"""CCv3 decorators: read from the top of an entry, stripped from the text that is sent."""

from __future__ import annotations

from personas.lore.decorators import parse, without


def test_decorators_are_read_and_stripped_with_the_blank_lines_around_them() -> None:
    decorated = parse("@@depth 2\n@@role user\n@@additional_keys storm, spren\n\nThe text.\n")
    assert decorated.text == "The text."
    assert decorated.number("depth") == 2
    assert decorated.values["role"] == "user"
    assert decorated.words("additional_keys") == ["storm", "spren"]


def test_unknown_decorators_are_ignored_and_their_fallback_stands_in() -> None:
    decorated = parse("@@risu_only 4\n@@@agnai_only 4\n@@@activate_only_after 4\nText")
    assert decorated.values == {"activate_only_after": "4"}
    assert decorated.text == "Text"


def test_a_known_decorator_skips_its_fallbacks() -> None:
    decorated = parse("@@x_reveal oathbringer\n@@@dont_activate\nText")
    assert decorated.values == {"x_reveal": "oathbringer"}


def test_an_invalid_value_counts_as_unknown_and_the_first_of_a_name_wins() -> None:
    decorated = parse("@@depth many\n@@@depth 3\n@@depth 9\n@@role captain\nText")
    assert decorated.number("depth") == 3
    assert "role" not in decorated.values


def test_content_without_decorators_is_left_alone() -> None:
    assert parse("Plain @@depth 2 text").text == "Plain @@depth 2 text"


def test_without_removes_a_decorator_and_its_fallbacks_only() -> None:
    content = "@@x_reveal oathbringer\n@@@dont_activate\n@@depth 2\nText"
    assert without(content, "x_reveal") == "@@depth 2\nText"
