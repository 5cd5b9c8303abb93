"""Ollama's native API: ``POST /api/chat`` streaming NDJSON. Works with Ollama Cloud too."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from chat.backends.base import ChatMessage, GenerationOptions, ReadPace, Usage
from chat.backends.framing import NdjsonDecoder
from chat.backends.http import HttpBackend, parse_json
from chat.backends.transport import paced_body
from chat.errors import BackendProtocolError, BackendReportedError

DEFAULT_HOST = "http://localhost:11434"


class OllamaBackend(HttpBackend):
    """An Ollama server, local or Ollama Cloud (with a Bearer API key)."""

    name = "ollama"
    label = "Ollama"
    default_model = "llama3.1:8b"
    # /api/chat's ``options`` (Ollama's Modelfile parameters) take every one of ours.
    SAMPLING = {
        "temperature": "temperature",
        "top_p": "top_p",
        "max_tokens": "num_predict",
        "stop": "stop",
        "repeat_penalty": "repeat_penalty",
        "frequency_penalty": "frequency_penalty",
        "presence_penalty": "presence_penalty",
        "min_p": "min_p",
        "top_k": "top_k",
        "seed": "seed",
    }

    @property
    def root(self) -> str:
        """The server root, such as http://localhost:11434 or https://ollama.com."""
        return (self.config.base_url or DEFAULT_HOST).rstrip("/")

    @property
    def context_window(self) -> int:
        """num_ctx when it is set, since Ollama truncates to it."""
        return self.config.num_ctx or self.config.context_tokens

    @staticmethod
    def wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
        """Messages as Ollama's /api/chat has them: pictures in a turn's ``images``, as
        base64."""
        wire: list[dict[str, Any]] = []
        for message in messages:
            turn: dict[str, Any] = {"role": message["role"], "content": message["content"]}
            if message.get("images"):
                turn["images"] = [image.base64() for image in message["images"]]
            wire.append(turn)
        return wire

    def payload(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> dict[str, Any]:
        """The /api/chat request body, with options mapped to Ollama's names."""
        ollama_options = self.sampling(options)
        if self.config.num_ctx:
            ollama_options["num_ctx"] = self.config.num_ctx
        return {
            "model": options.model,
            "messages": self.wire_messages(messages),
            "stream": True,
            "options": ollama_options,
        }

    async def _events(
        self, messages: Sequence[ChatMessage], options: GenerationOptions, pace: ReadPace
    ) -> AsyncIterator[str | Usage]:
        url = f"{self.root}/api/chat"
        payload = self.payload(messages, options)
        async with self.open_stream(url, payload=payload, model=options.model) as response:
            records = NdjsonDecoder(self.label).records(paced_body(response, pace))
            async for line in records:
                for item in self.record_items(parse_json(line, self.label)):
                    yield item
                    if isinstance(item, Usage):
                        return
        raise BackendProtocolError(
            "Ollama's stream ended before its final message; the reply may be cut short."
        )

    @staticmethod
    def record_items(data: dict[str, Any]) -> list[str | Usage]:
        """The text delta of one NDJSON record and, on the final one, its usage."""
        if data.get("error"):
            raise BackendReportedError(f"Ollama reported an error: {data['error']}")
        items: list[str | Usage] = []
        message = data.get("message") or {}
        content = message.get("content") if isinstance(message, dict) else None
        if content:
            items.append(str(content))
        if data.get("done"):
            items.append(
                Usage(
                    prompt_tokens=data.get("prompt_eval_count"),
                    completion_tokens=data.get("eval_count"),
                    finish_reason=data.get("done_reason") or "stop",
                    model=data.get("model"),
                )
            )
        return items

    @property
    def endpoint(self) -> str:
        """Where requests go."""
        return self.root

    async def list_models(self) -> list[str]:
        """Model names from ``GET /api/tags``."""
        data = await self.get_json(f"{self.root}/api/tags")
        return [str(m.get("name") or m.get("model")) for m in data.get("models", [])]
