from __future__ import annotations

import pytest

from chat.titles import clean_title, fallback_title


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ('"Bridge Four Memories"', "Bridge Four Memories"),
        ("Title: The Shattered Plains.\nMore text", "The Shattered Plains"),
        (
            "**Honor and Oaths Among Knights Radiant Today**",
            "Honor and Oaths Among Knights Radiant",
        ),
        ("\n\n  “Spren”  ", "Spren"),
        ("", ""),
    ],
)
def test_model_answers_become_short_titles(raw: str, title: str) -> None:
    assert clean_title(raw) == title


def test_fallback_is_the_first_words_of_the_message() -> None:
    assert fallback_title("How do **fabrials** work, and who made the first one?") == (
        "How do fabrials work, and who"
    )
    assert fallback_title("   ") == "New chat"
