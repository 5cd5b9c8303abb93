"""Markdown for every message: markdown-it-py renders, nh3 sanitizes.

Raw HTML in the source is not rendered (it shows as text), and whatever markdown-it emits
is passed through nh3 with a short allow-list, so model output, user text and persona
fields cannot run script, carry event handlers or load from ``javascript:`` URLs.

Anyone can send Markdown, so its cost is bounded. Text past the caps (too long, a table
too wide or with too many cells, HTML that would grow past a few times the text) is shown
as escaped plain text instead: a 1,000-column table cost 1.5 s of CPU and 673 KB of HTML
before, and costs microseconds now. Each text is rendered once per process (a bounded
cache), and callers on the event loop render in a thread (chat/rendering.py).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache

import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

# Beyond these, text is shown plain. Tables are what make markdown-it slow (parsing a
# 1,000-column table took 0.8 s), so their pipes are counted before parsing.
MAX_MARKDOWN_CHARS = 40_000
MAX_TABLE_COLUMNS = 64
MAX_TABLE_PIPES = 2_000
# HTML longer than this many times the text (plus a little) is a sign of amplification.
MAX_HTML_GROWTH = 6

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "a",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    options = {"html": False, "linkify": False, "breaks": True, "maxNesting": 20}
    return MarkdownIt("commonmark", options).enable(["table", "strikethrough"])


# Rendered messages, newest use last: a message is rendered once per process, not once
# per page load or connection. Bounded by entries and by the characters held.
CACHE_ENTRIES = 2048
CACHE_CHARS = 8_000_000
_cache: OrderedDict[str, SafeString] = OrderedDict()
_cached_chars = 0
_cache_lock = threading.Lock()


def render_markdown(text: str) -> SafeString:
    """Safe HTML for a message's Markdown (from the cache when it was rendered before)."""
    global _cached_chars
    text = text or ""
    with _cache_lock:
        html = _cache.get(text)
        if html is not None:
            _cache.move_to_end(text)
            return html
    html = _render(text)
    with _cache_lock:
        if text not in _cache:
            _cache[text] = html
            _cached_chars += len(text) + len(html)
        while len(_cache) > CACHE_ENTRIES or _cached_chars > CACHE_CHARS:
            old_text, old_html = _cache.popitem(last=False)
            _cached_chars -= len(old_text) + len(old_html)
    return html


def plain_text(text: str) -> SafeString:
    """Escaped text that keeps its line breaks (the fallback past the caps)."""
    return mark_safe(f'<p class="plain-text">{escape(text)}</p>')


def within_caps(text: str) -> bool:
    """Whether Markdown may be rendered for this text at a bounded cost."""
    if len(text) > MAX_MARKDOWN_CHARS:
        return False
    pipes = text.count("|")
    if pipes > MAX_TABLE_PIPES:
        return False
    return pipes <= MAX_TABLE_COLUMNS or all(
        line.count("|") <= MAX_TABLE_COLUMNS + 1 for line in text.splitlines()
    )


def _render(text: str) -> SafeString:
    if not within_caps(text):
        return plain_text(text)
    html = _parser().render(text)
    if len(html) > MAX_HTML_GROWTH * len(text) + 2_000:
        return plain_text(text)
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return mark_safe(clean)
