"""The one interface every backend implements: stream a reply, then summarise it."""

from __future__ import annotations

import asyncio
import base64
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, NotRequired, TypedDict

from chat.backends.queueing import PositionCallback
from chat.backends.watchdog import Watchdog
from chat.errors import BackendTimeout


@dataclass(frozen=True, slots=True)
class PromptImage:
    """A picture sent with a turn, as stored (re-encoded JPEG or PNG)."""

    content_type: str
    data: bytes

    def base64(self) -> str:
        """The picture's bytes in base64, as both vision wire formats carry them."""
        return base64.b64encode(self.data).decode("ascii")


class ChatMessage(TypedDict):
    """One turn sent to the model (with pictures, for a backend that sees them)."""

    role: str
    content: str
    images: NotRequired[list[PromptImage]]


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    """Sampling and length options; None (or no stop sequences) leaves the backend's own
    default. Each backend maps them to its own names (``Backend.SAMPLING``)."""

    model: str = ""
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    repeat_penalty: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    min_p: float | None = None
    top_k: int | None = None
    seed: int | None = None


# The sampling options, in the order people read them.
SAMPLING_OPTIONS = (
    "temperature",
    "top_p",
    "max_tokens",
    "stop",
    "repeat_penalty",
    "frequency_penalty",
    "presence_penalty",
    "min_p",
    "top_k",
    "seed",
)


@dataclass(frozen=True, slots=True)
class Usage:
    """What a backend reports about a reply, as far as it reports anything."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    model: str | None = None

    def merged(self, other: Usage) -> Usage:
        """This usage with every field the other one knows filled in."""
        known = {name: getattr(other, name) for name in self.__slots__}
        return replace(self, **{k: v for k, v in known.items() if v is not None})


@dataclass(frozen=True, slots=True)
class GenerationSummary:
    """The end of a stream: who answered, how much, why it stopped and how fast."""

    backend: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None
    ttft_ms: int | None
    duration_ms: int


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds allowed to connect, to the first token, and between later tokens."""

    connect: float = 10.0
    first_token: float = 120.0
    idle: float = 60.0


@dataclass(frozen=True, slots=True)
class BackendConfig:
    """Everything a backend needs to reach its model. ``api_key`` is never shown."""

    name: str
    base_url: str = ""
    api_key: str = field(default="", repr=False)
    model: str = ""
    account_id: str = ""
    model_path: str = ""
    context_tokens: int = 8192
    num_ctx: int = 0
    timeouts: Timeouts = Timeouts()
    # Seconds between reads of a reply's upstream after its first token (0: read as
    # bytes arrive). See ReadPace.
    read_window: float = 0.0


class ReadPace:
    """How often a reply's upstream body is read.

    Until the first token every read happens as bytes arrive, so time to first token is
    unchanged. From then on (``steady``) the body is read at most once per ``window``, or
    at once when it ends: between reads aiohttp's parser (in C) gathers what arrives (its
    buffer limit, then TCP flow control, hold a fast sender), and the next read takes
    all of it in one piece instead of one read per token. The run publishes once per
    window anyway, so people see the same batches, and the last one is not held back.

    Once reads are really held back (``held``: the body's end can be heard while waiting),
    each read is a window's worth, so a reader can publish what it read at once instead of
    waiting for a timer of its own, which would add up to another window to every batch.
    """

    __slots__ = ("held", "steady", "window")

    def __init__(self, window: float) -> None:
        self.window = window
        self.steady = False
        self.held = False

    @property
    def paced(self) -> bool:
        """Whether to wait a window before the next read."""
        return self.steady and self.window > 0


StreamItem = str | GenerationSummary


class Backend(ABC):
    """An LLM that streams replies. Subclasses implement ``_events`` and ``list_models``."""

    name: ClassVar[str]
    default_model: ClassVar[str]
    # Each sampling option's name on this backend's wire; an option missing here is one
    # the backend lacks, left out of requests (and named by ``llm_check``).
    SAMPLING: ClassVar[dict[str, str]] = {}

    def __init__(self, config: BackendConfig) -> None:
        self.config = config

    @property
    def model(self) -> str:
        """The model used when a request names none."""
        return self.config.model or self.default_model

    @property
    def context_window(self) -> int:
        """How many tokens of prompt plus reply the model accepts."""
        return self.config.context_tokens

    @property
    def endpoint(self) -> str:
        """Where requests go, for people reading a status line."""
        return self.config.base_url or "(default)"

    def count_tokens(self, text: str) -> int:
        """Estimate tokens as one per 4 characters (documented; backends with a tokenizer
        override this)."""
        return len(text) // 4 + 1

    def describe(self) -> dict[str, str]:
        """The configuration, safe to print: the API key is masked."""
        key = self.config.api_key
        return {
            "backend": self.name,
            "model": self.model,
            "endpoint": self.endpoint,
            "api_key": f"set (****{key[-4:]})" if len(key) > 8 else ("set" if key else "not set"),
        }

    def sampling(self, options: GenerationOptions) -> dict[str, Any]:
        """The options that are set and that this backend has, under its own names."""
        fields: dict[str, Any] = {}
        for option, wire in self.SAMPLING.items():
            value = getattr(options, option)
            if option == "stop":
                value = list(value) or None
            if value is not None:
                fields[wire] = value
        return fields

    @classmethod
    def unsupported_options(cls) -> list[str]:
        """The sampling options this backend lacks (left out of its requests)."""
        return [option for option in SAMPLING_OPTIONS if option not in cls.SAMPLING]

    def admission(self, on_position: PositionCallback | None) -> AbstractAsyncContextManager[Any]:
        """Wait here before generating. HTTP backends take requests in parallel; the
        embedded model serves one at a time in a fair queue."""
        return nullcontext()

    def load(self) -> dict[str, Any]:
        """How busy the backend is, for ``/health`` (nothing to say for HTTP backends)."""
        return {}

    @abstractmethod
    def _events(
        self, messages: Sequence[ChatMessage], options: GenerationOptions, pace: ReadPace
    ) -> AsyncIterator[str | Usage]:
        """Yield text deltas and usage reports straight from the model, reading the
        upstream as ``pace`` says (HTTP backends; the embedded model has no upstream)."""

    @abstractmethod
    async def list_models(self) -> list[str]:
        """The models the backend offers; raises a BackendError if it can't be reached."""

    def _silence(self, timeouts: Timeouts, *, waited_for_first: bool) -> BackendTimeout:
        phase = "the first token" if waited_for_first else "the next token"
        limit = timeouts.first_token if waited_for_first else timeouts.idle
        return BackendTimeout(
            f"{self.name} sent nothing for {limit:g} s while waiting for {phase}. "
            "The server may be overloaded or the model still loading; try again, "
            "or raise LLM_FIRST_TOKEN_TIMEOUT / LLM_IDLE_TIMEOUT."
        )

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        *,
        on_queued: PositionCallback | None = None,
        pace: ReadPace | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Yield text deltas as they arrive, then one GenerationSummary.

        ``pace`` is how often to read the upstream once the first token is in; the caller
        may change its window as it goes (a run keeps it at its publishing window).
        Without one, reads are paced at ``BackendConfig.read_window``.

        A backend that serves one reply at a time first waits its turn, calling
        ``on_queued`` with the place in line whenever it changes. Closing or cancelling
        this iterator closes the upstream request at once (or leaves the line). The first
        delta must arrive within the first-token timeout, later ones within the idle one;
        both count from the turn starting, not from joining the line.
        """
        async with self.admission(on_queued):
            model = options.model or self.model
            options = replace(options, model=model)
            timeouts = self.config.timeouts
            loop = asyncio.get_running_loop()
            started = loop.time()
            first_at: float | None = None
            usage = Usage()
            deltas = 0
            pace = pace if pace is not None else ReadPace(self.config.read_window)
            events = self._events(messages, options, pace)
            watchdog = Watchdog(started + timeouts.first_token)
            try:
                while True:
                    try:
                        if not watchdog.wait_begins():
                            raise self._silence(timeouts, waited_for_first=first_at is None)
                        event = await anext(events)
                    except StopAsyncIteration:
                        break
                    except asyncio.CancelledError:
                        if not watchdog.expired():
                            raise
                        raise self._silence(timeouts, waited_for_first=first_at is None) from None
                    finally:
                        watchdog.wait_ends()
                    if isinstance(event, Usage):
                        usage = usage.merged(event)
                        continue
                    if not event:
                        continue
                    now = loop.time()
                    if first_at is None:
                        first_at = now
                        pace.steady = True
                    deltas += 1
                    watchdog.deadline = now + timeouts.idle
                    yield event
            finally:
                watchdog.disarm()
                await events.aclose()
            yield GenerationSummary(
                backend=self.name,
                model=usage.model or model,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens
                if usage.completion_tokens is not None
                else deltas,
                finish_reason=usage.finish_reason,
                ttft_ms=None if first_at is None else round((first_at - started) * 1000),
                duration_ms=round((loop.time() - started) * 1000),
            )
