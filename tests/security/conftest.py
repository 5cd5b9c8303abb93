"""The attack tests reuse the integration fixtures: the real ASGI stack and a fake LLM."""

from __future__ import annotations

from tests.integration.conftest import connect, llm, owned_chat  # noqa: F401
