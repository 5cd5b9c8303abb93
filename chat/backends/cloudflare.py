"""Cloudflare Workers AI's native API: ``POST {base}/accounts/{id}/ai/run/{model}`` with SSE."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from typing import Any

from chat.backends.base import ChatMessage, GenerationOptions, ReadPace, Usage
from chat.backends.http import HttpBackend
from chat.errors import BackendMisconfigured

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"


class CloudflareBackend(HttpBackend):
    """Workers AI text generation, streamed as ``data: {"response": ...}`` events."""

    name = "cloudflare"
    label = "Cloudflare Workers AI"
    default_model = "@cf/meta/llama-3.1-8b-instruct"
    # Workers AI's text-generation input schema: no stop sequences and no min_p.
    SAMPLING = {
        "temperature": "temperature",
        "top_p": "top_p",
        "max_tokens": "max_tokens",
        "repeat_penalty": "repetition_penalty",
        "frequency_penalty": "frequency_penalty",
        "presence_penalty": "presence_penalty",
        "top_k": "top_k",
        "seed": "seed",
    }

    @property
    def account_root(self) -> str:
        """``{base}/accounts/{account id}``; the account id is required."""
        if not self.config.account_id:
            raise BackendMisconfigured(
                "Cloudflare Workers AI needs an account id: set CLOUDFLARE_ACCOUNT_ID."
            )
        return f"{self.endpoint}/accounts/{self.config.account_id}"

    @property
    def endpoint(self) -> str:
        """The API base (the account id is part of each request's path)."""
        return (self.config.base_url or DEFAULT_BASE_URL).rstrip("/")

    def payload(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> dict[str, Any]:
        """The ai/run request body."""
        sampling = self.sampling(options)
        return {"messages": self.wire_messages(messages), "stream": True, **sampling}

    async def _events(
        self, messages: Sequence[ChatMessage], options: GenerationOptions, pace: ReadPace
    ) -> AsyncIterator[str | Usage]:
        url = f"{self.account_root}/ai/run/{options.model}"
        payload = self.payload(messages, options)
        objects = self.sse_objects(url, payload=payload, model=options.model, pace=pace)
        async with aclosing(objects) as events:
            async for data in events:
                if data.get("response"):
                    yield str(data["response"])
                usage = data.get("usage")
                if isinstance(usage, dict):
                    yield Usage(
                        prompt_tokens=usage.get("prompt_tokens"),
                        completion_tokens=usage.get("completion_tokens"),
                    )
        yield Usage(finish_reason="stop")

    async def list_models(self) -> list[str]:
        """Text-generation model names from the account's model catalogue."""
        data = await self.get_json(
            f"{self.account_root}/ai/models/search?task=Text%20Generation&per_page=100"
        )
        return [str(m.get("name")) for m in data.get("result", []) if isinstance(m, dict)]
