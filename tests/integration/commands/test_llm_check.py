"""``manage.py llm_check`` end to end: in-process and as a subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings

from tests.fakes.llm_server import Reply, Request, openai_sse, serve_in_thread

ROOT = Path(__file__).resolve().parents[3]
KEY = "sk-live-very-secret-9876"


def openai_router(request: Request) -> Reply:
    if request.path.endswith("/models"):
        models = {"data": [{"id": "model-a"}, {"id": "model-b"}]}
        return Reply(content_type="application/json", body=[json.dumps(models).encode()])
    return Reply(body=openai_sse(["Hello", " from", " the", " Shattered", " Plains"]))


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "DEBUG": "1", "DATABASE_URL": "sqlite:///:memory:"}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=base | env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_checks_an_openai_compatible_server_without_printing_the_key(
    settings: Settings,
) -> None:
    with serve_in_thread(openai_router) as server:
        settings.LLM_BACKEND = "openai"
        settings.LLM_BASE_URL = f"{server.url}/v1"
        settings.LLM_API_KEY = KEY
        settings.LLM_MODEL = "model-a"
        out = StringIO()
        call_command("llm_check", stdout=out)
    text = out.getvalue()
    assert "backend: openai" in text
    assert "reachable: yes (2 models)" in text
    assert "- model-b" in text
    assert "Hello from the Shattered Plains" in text
    assert "tokens/s" in text
    assert "first token in" in text
    assert KEY not in text
    assert "****9876" in text
    assert "sampling: repeat_penalty, min_p, top_k not supported here" in text


def test_an_unreachable_backend_fails_with_one_clear_line(settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.LLM_BACKEND = "ollama"
    settings.LLM_BASE_URL = f"http://127.0.0.1:{port}"
    with pytest.raises(CommandError, match="backend_unreachable: Ollama"):
        call_command("llm_check", stdout=StringIO())


def test_subprocess_exit_codes_and_backend_flag() -> None:
    with serve_in_thread(Reply(status=401, content_type="application/json", body=[b"{}"])) as s:
        failed = run_manage(
            "llm_check", "--backend", "openai", OPENAI_BASE_URL=f"{s.url}/v1", OPENAI_API_KEY=KEY
        )
    assert failed.returncode == 1
    assert failed.stderr.strip().count("\n") == 0
    assert "backend_auth_failed" in failed.stderr
    assert KEY not in failed.stderr + failed.stdout

    with serve_in_thread(openai_router) as server:
        ok = run_manage("llm_check", LLM_BACKEND="openai", LLM_BASE_URL=f"{server.url}/v1")
    assert ok.returncode == 0, ok.stderr
    assert "ok: model" in ok.stdout


@pytest.mark.slow
def test_checks_the_embedded_model_by_default() -> None:
    result = run_manage("llm_check", "--max-tokens", "8")
    assert result.returncode == 0, result.stderr
    assert "backend: local" in result.stdout
    assert "SmolLM2-135M" in result.stdout
    assert "tokens/s" in result.stdout


def test_help_explains_the_command() -> None:
    result = run_manage("llm_check", "--help")
    assert result.returncode == 0
    assert "--backend" in result.stdout
