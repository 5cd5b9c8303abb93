"""The coalescing window widens with the number of replies a process is writing."""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from chat.runs import coalescing_window


@pytest.fixture
def windows(settings: SettingsWrapper) -> SettingsWrapper:
    settings.STREAM_COALESCE_MS = 40
    settings.STREAM_COALESCE_MAX_MS = 100
    settings.STREAM_COALESCE_BUSY_REPLIES = 101
    return settings


@pytest.mark.parametrize(
    ("streaming", "seconds"), [(0, 0.040), (1, 0.040), (51, 0.070), (101, 0.100), (500, 0.100)]
)
def test_one_reply_gets_the_finest_window_and_a_busy_process_the_widest(
    windows: SettingsWrapper, streaming: int, seconds: float
) -> None:
    assert coalescing_window(streaming) == pytest.approx(seconds)


def test_a_maximum_below_the_window_keeps_the_window(windows: SettingsWrapper) -> None:
    windows.STREAM_COALESCE_MAX_MS = 0
    assert coalescing_window(300) == pytest.approx(0.040)
