"""Markdown's cost is bounded: past the caps, text is shown plain (and still escaped)."""

from __future__ import annotations

import pytest

from chat import markdown
from chat.markdown import render_markdown


@pytest.mark.parametrize(
    "text",
    [
        "|a" * 1000 + "|\n" + "|-" * 1000 + "|\n" + "a\n" * 1998,  # 1,000 columns
        ("|a" * 20 + "|\n") * 120,  # 2,400 cells
        "word " * 9000,  # longer than MAX_MARKDOWN_CHARS
    ],
    ids=["wide-table", "many-cells", "too-long"],
)
def test_text_past_the_caps_is_plain_and_escaped(text: str) -> None:
    html = render_markdown(text + "<script>")
    assert html.startswith('<p class="plain-text">')
    assert "<table" not in html
    assert "&lt;script&gt;" in html
    assert len(html) < 2 * len(text) + 100


def test_tables_within_the_caps_render() -> None:
    table = "| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert "<table>" in render_markdown(table)


def test_html_that_grows_too_much_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(markdown, "MAX_HTML_GROWTH", 1)
    markdown._cache.clear()
    text = "* a\n" * 2000  # a list: about eight times the text as HTML
    assert render_markdown(text).startswith('<p class="plain-text">')


def test_each_text_is_rendered_once() -> None:
    markdown._cache.clear()
    first = render_markdown("**Journey** before destination")
    assert render_markdown("**Journey** before destination") is first
