"""``manage.py llm_check``: is the LLM backend configured, reachable and generating?"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.backends.base import Backend, GenerationOptions, GenerationSummary
from chat.backends.http import run_closing_client
from chat.backends.registry import get_backend
from chat.errors import BackendError
from personas.backends import BackendName

PROBE = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "Say hello in five words."},
]


class Command(BaseCommand):
    help = (
        "Check the LLM backend: print its configuration (secrets masked), whether it is "
        "reachable, the models it offers, and a short test generation with time to first "
        "token and tokens per second. Exits non-zero with one clear line on failure."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--backend",
            choices=BackendName.values,
            help="Check this backend instead of the default (LLM_BACKEND).",
        )
        parser.add_argument("--model", default="", help="Generate with this model.")
        parser.add_argument(
            "--max-tokens", type=int, default=32, help="Length of the test generation."
        )

    def handle(
        self, *args: Any, backend: str | None, model: str, max_tokens: int, **_: Any
    ) -> None:
        try:
            chosen = get_backend(backend)
            for key, value in chosen.describe().items():
                self.stdout.write(f"{key:>9}: {value}")
            lacking = chosen.unsupported_options()
            self.stdout.write(
                f" sampling: {', '.join(lacking)} not supported here (left out of requests)"
                if lacking
                else " sampling: every option is supported"
            )
            run_closing_client(self.probe(chosen, model=model, max_tokens=max_tokens))
        except BackendError as error:
            detail = f" ({error.detail})" if error.detail else ""
            raise CommandError(f"{error.code}: {error.message}{detail}") from None

    async def probe(self, backend: Backend, *, model: str, max_tokens: int) -> None:
        """Probe reachability and models, then time a short generation."""
        models = await backend.list_models()
        self.stdout.write(f"reachable: yes ({len(models)} models)")
        for name in models[:20]:
            self.stdout.write(f"           - {name}")
        if len(models) > 20:
            self.stdout.write(f"           ... and {len(models) - 20} more")
        options = GenerationOptions(model=model or backend.model, max_tokens=max_tokens)
        text: list[str] = []
        summary: GenerationSummary | None = None
        async for item in backend.stream(PROBE, options):
            if isinstance(item, GenerationSummary):
                summary = item
            else:
                text.append(item)
        if summary is None or not text:
            raise CommandError(f"{backend.name} answered with no text.")
        seconds = max(summary.duration_ms - (summary.ttft_ms or 0), 1) / 1000
        rate = (summary.completion_tokens or len(text)) / seconds
        self.stdout.write(f"   sample: {''.join(text).strip()[:200]!r}")
        self.stdout.write(
            self.style.SUCCESS(
                f"       ok: model {summary.model}, first token in {summary.ttft_ms} ms, "
                f"{rate:.1f} tokens/s, {summary.completion_tokens} tokens"
            )
        )
