"""Any OpenAI-compatible server: ``POST {LLM_BASE_URL}/chat/completions`` streaming SSE.

One backend covers OpenAI, vLLM, the llama.cpp server, LM Studio, OpenRouter, Groq and
Cloudflare's OpenAI-compatible endpoint.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from typing import Any

from chat.backends.base import ChatMessage, GenerationOptions, ReadPace, Usage
from chat.backends.http import HttpBackend

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAICompatBackend(HttpBackend):
    """The Chat Completions API with ``stream: true``."""

    name = "openai"
    label = "The OpenAI-compatible server"
    stream_hint = "Does LLM_BASE_URL end in /v1?"
    default_model = "gpt-4o-mini"
    # The chat.completions body's own fields. OpenAI refuses the others (top_k, min_p,
    # repeat_penalty), so they are left out even though some compatible servers take them.
    SAMPLING = {
        "temperature": "temperature",
        "top_p": "top_p",
        "max_tokens": "max_tokens",
        "stop": "stop",
        "frequency_penalty": "frequency_penalty",
        "presence_penalty": "presence_penalty",
        "seed": "seed",
    }

    @property
    def base(self) -> str:
        """The API base including /v1, as the OpenAI SDK takes it."""
        return (self.config.base_url or DEFAULT_BASE_URL).rstrip("/")

    def payload(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> dict[str, Any]:
        """The chat.completions request body, asking for usage in the stream."""
        return {
            "model": options.model,
            "messages": self.wire_messages(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            **self.sampling(options),
        }

    async def _events(
        self, messages: Sequence[ChatMessage], options: GenerationOptions, pace: ReadPace
    ) -> AsyncIterator[str | Usage]:
        url = f"{self.base}/chat/completions"
        payload = self.payload(messages, options)
        objects = self.sse_objects(url, payload=payload, model=options.model, pace=pace)
        async with aclosing(objects) as chunks:
            async for data in chunks:
                for item in chat_chunk_items(data):
                    yield item

    @property
    def endpoint(self) -> str:
        """Where requests go."""
        return self.base

    async def list_models(self) -> list[str]:
        """Model ids from ``GET {base}/models``."""
        data = await self.get_json(f"{self.base}/models")
        return [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict)]


def chat_chunk_items(data: dict[str, Any]) -> list[str | Usage]:
    """Text deltas and usage from one ``chat.completion.chunk``."""
    items: list[str | Usage] = []
    for choice in data.get("choices") or []:
        delta = choice.get("delta") or {}
        if delta.get("content"):
            items.append(str(delta["content"]))
        if choice.get("finish_reason"):
            items.append(Usage(finish_reason=choice["finish_reason"]))
    usage = data.get("usage")
    if isinstance(usage, dict):
        items.append(
            Usage(
                prompt_tokens=usage.get("prompt_tokens"),
                completion_tokens=usage.get("completion_tokens"),
            )
        )
    if data.get("model"):
        items.append(Usage(model=str(data["model"])))
    return items
