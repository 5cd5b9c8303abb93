"""The embedded model, for real: SmolLM2-135M through llama-cpp-python."""

from __future__ import annotations

import asyncio

import pytest
from pytest_django.fixtures import Settings

from chat.backends.base import BackendConfig, GenerationOptions, GenerationSummary
from chat.backends.local import LocalBackend, _executor, default_model_path
from chat.backends.registry import backend_config
from chat.errors import BackendMisconfigured

pytestmark = pytest.mark.slow
MESSAGES = [
    {"role": "system", "content": "You are Kaladin, a soldier. Answer briefly."},
    {"role": "user", "content": "Who are you?"},
]


def make_backend(**config: object) -> LocalBackend:
    return LocalBackend(BackendConfig(name="local", context_tokens=2048, **config))


async def test_default_model_is_the_shipped_smollm2_file() -> None:
    path = default_model_path()
    assert path.suffix == ".gguf"
    assert "SmolLM2-135M" in path.name
    assert make_backend().model == path.stem


async def test_it_streams_tokens_and_a_summary() -> None:
    deltas: list[str] = []
    summary = None
    options = GenerationOptions(temperature=0.2, max_tokens=24)
    async for item in make_backend().stream(MESSAGES, options):
        if isinstance(item, GenerationSummary):
            summary = item
        else:
            deltas.append(item)
    assert len(deltas) >= 3
    assert "".join(deltas).strip()
    assert summary is not None
    assert summary.backend == "local"
    assert summary.completion_tokens == len(deltas)
    assert summary.prompt_tokens is not None
    assert summary.prompt_tokens > 10
    assert summary.finish_reason in {"length", "stop"}
    assert summary.ttft_ms is not None


async def test_cancelling_stops_generation_between_tokens() -> None:
    backend = make_backend()
    stream = backend.stream(MESSAGES, GenerationOptions(max_tokens=400, temperature=1.0))
    for _ in range(3):
        await anext(stream)
    await stream.aclose()
    # The worker finishes its current token and stops; once the single worker thread is
    # free again, the model's context shows how far it got.
    await asyncio.get_running_loop().run_in_executor(_executor, lambda: None)
    prompt_tokens = backend.count_tokens(MESSAGES[0]["content"] + MESSAGES[1]["content"])
    assert backend.llama().n_tokens < prompt_tokens + 60


async def test_a_missing_model_file_is_a_clear_error(tmp_path: object) -> None:
    backend = make_backend(model_path="/nonexistent/model.gguf")
    with pytest.raises(BackendMisconfigured, match="LOCAL_MODEL_PATH"):
        async for _ in backend.stream(MESSAGES, GenerationOptions(max_tokens=5)):
            pass


async def test_counts_tokens_with_the_models_tokenizer() -> None:
    backend = make_backend()
    assert backend.count_tokens("Life before death.") < len("Life before death.")
    assert backend.count_tokens("word " * 50) >= 50


def test_local_context_comes_from_settings(settings: Settings) -> None:
    settings.LOCAL_CONTEXT_TOKENS = 1024
    assert backend_config("local").context_tokens == 1024


async def reply_text(options: GenerationOptions) -> str:
    parts = []
    async for item in make_backend().stream(MESSAGES, options):
        if not isinstance(item, GenerationSummary):
            parts.append(item)
    return "".join(parts)


async def test_sampling_options_reach_llama_cpp() -> None:
    # Hot sampling with a seed repeats itself exactly; another seed writes something else.
    hot = GenerationOptions(temperature=1.5, max_tokens=24, top_k=200, min_p=0.0, seed=11)
    first, again = await reply_text(hot), await reply_text(hot)
    assert first == again
    assert await reply_text(GenerationOptions(**{**_fields(hot), "seed": 12})) != first
    # A stop sequence ends the reply before it is written.
    word = first.split()[1]
    stopped = await reply_text(GenerationOptions(**{**_fields(hot), "stop": (word,)}))
    assert word not in stopped
    assert len(stopped) < len(first)


def _fields(options: GenerationOptions) -> dict[str, object]:
    return {name: getattr(options, name) for name in options.__slots__}
