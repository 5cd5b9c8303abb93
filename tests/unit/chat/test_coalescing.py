"""The coalescing window: finest when quiet, wider (fewer frames) under load, capped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings

from chat import runs


@pytest.fixture
def writing() -> Iterator[set[int]]:
    """The replies this process is writing (emptied afterwards)."""
    yield runs._active_runs
    runs._active_runs.clear()


def test_the_window_widens_with_concurrent_replies_up_to_the_cap(
    settings: Settings, writing: set[int]
) -> None:
    settings.STREAM_COALESCE_MS = 40
    settings.STREAM_COALESCE_BUSY_RUNS = 100
    settings.STREAM_COALESCE_MAX_MS = 100
    windows = []
    for count in (0, 1, 50, 100, 1000):
        writing.clear()
        writing.update(range(count))
        windows.append(round(runs.coalescing_window() * 1000, 1))
    assert windows == [40.0, 40.4, 60.0, 80.0, 100.0]


def test_a_cap_below_the_base_window_keeps_the_base(settings: Settings, writing: set[int]) -> None:
    settings.STREAM_COALESCE_MS = 40
    settings.STREAM_COALESCE_MAX_MS = 10
    writing.update(range(500))
    assert runs.coalescing_window() == 0.04
