"""What of a reply is spoken: Markdown read as text, actions for the narrator."""

from __future__ import annotations

from chat.speech.text import Spoken, next_sentences, speakable


def test_actions_are_the_narrators_and_the_rest_the_personas() -> None:
    parts = speakable("*Kaladin looks up.* Couldn't sleep either, huh? _Syl giggles._ Sit.")
    assert parts == [
        Spoken("Kaladin looks up.", narrator=True),
        Spoken("Couldn't sleep either, huh?"),
        Spoken("Syl giggles.", narrator=True),
        Spoken("Sit."),
    ]


def test_actions_can_be_left_out() -> None:
    assert speakable("*He sighs.* Fine.", actions="skip") == [Spoken("Fine.")]


def test_markdown_is_read_as_text() -> None:
    text = "# Oaths\n\n**Life** before [death](https://example.com).\n\n- one\n- `two`\n"
    assert speakable(text) == [Spoken("Oaths Life before death. one two")]


def test_code_is_not_read_out() -> None:
    [part] = speakable("Here:\n```python\nprint('storm')\n```\nDone.")
    assert "print" not in part.text
    assert part.text == "Here: (code) Done."


def test_nothing_to_say_is_empty_and_long_replies_are_cut() -> None:
    assert speakable("*  *  ---  ") == []
    assert sum(len(p.text) for p in speakable("word " * 2000, limit=100)) <= 100


def test_bold_and_words_with_underscores_are_not_actions() -> None:
    assert speakable("**Strength** before snake_case weakness.") == [
        Spoken("Strength before snake case weakness.")
    ]


def test_next_sentences_waits_for_whole_sentences_of_some_length() -> None:
    text = "Short one. The highstorm is coming, so get inside. Bar the"
    part, at = next_sentences(text, 0, final=False)
    assert part == "Short one. The highstorm is coming, so get inside. "
    assert next_sentences(text, at, final=False) == ("", at)  # "Bar the" is not done
    assert next_sentences(text, at, final=True) == ("Bar the", len(text))
    assert next_sentences("Hi. ", 0, final=False) == ("", 0)  # too little yet
