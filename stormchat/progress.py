"""Progress bars for operators' bulk commands (tqdm, on stderr)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(items: Iterable[T], *, total: int | None, label: str) -> Iterator[T]:
    """Iterate with a progress bar on stderr, so stdout stays clean for piping."""
    yield from tqdm(items, total=total, desc=label, unit="item", leave=False, dynamic_ncols=True)
