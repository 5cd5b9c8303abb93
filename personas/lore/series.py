"""The books of The Stormlight Archive, in reading order: the points where facts are revealed.

A lore entry may carry the book (and chapter) where its fact comes out; a reader says how
far they have read with one of these slugs. To extend the series, append a book.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeriesBook:
    slug: str
    title: str


BOOKS: tuple[SeriesBook, ...] = (
    SeriesBook("the-way-of-kings", "The Way of Kings"),
    SeriesBook("words-of-radiance", "Words of Radiance"),
    SeriesBook("edgedancer", "Edgedancer"),
    SeriesBook("oathbringer", "Oathbringer"),
    SeriesBook("dawnshard", "Dawnshard"),
    SeriesBook("rhythm-of-war", "Rhythm of War"),
    SeriesBook("wind-and-truth", "Wind and Truth"),
)
FIRST_BOOK = BOOKS[0].slug
_ORDER = {book.slug: index for index, book in enumerate(BOOKS)}
CHOICES = [(book.slug, book.title) for book in BOOKS]


def is_book(slug: str) -> bool:
    """Whether ``slug`` names a book of the series."""
    return slug in _ORDER


def book_title(slug: str) -> str:
    """The book's title ("" for an unknown slug)."""
    index = _ORDER.get(slug)
    return BOOKS[index].title if index is not None else ""


def order_of(slug: str) -> int:
    """The book's place in reading order (unknown slugs after every book)."""
    return _ORDER.get(slug, len(BOOKS))


def is_revealed(reveal: str, read_through: str) -> bool:
    """Whether a fact revealed in ``reveal`` is known to a reader who has read through
    ``read_through``. No reveal point means always known; an unknown slug in either place
    counts as the last book of the series, so a typo never leaks a spoiler."""
    if not reveal:
        return True
    last = len(BOOKS) - 1
    return _ORDER.get(reveal, last) <= _ORDER.get(read_through, -1 if read_through else 0)
