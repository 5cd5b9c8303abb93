"""/metrics for operators only, with the figures the issue names; JSON log lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
NAMES = [
    "stormchat_runs_active",
    "stormchat_runs_queued",
    "stormchat_tokens_delivered_total",
    "stormchat_ttft_seconds_bucket",
    "stormchat_websocket_connections",
    "stormchat_sweeps_total",
    "stormchat_sweep_interrupted_replies_total",
]


def test_metrics_answer_the_machine_itself_in_prometheus_format(client: Client) -> None:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    for name in NAMES:
        assert f"\n{name}" in text, name
    assert "stormchat_backend_errors" in text


def test_metrics_are_refused_to_anyone_else(client: Client) -> None:
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403


def test_with_a_token_metrics_need_it_from_everywhere(client: Client, settings: Settings) -> None:
    settings.METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope", REMOTE_ADDR="203.0.113.9")
    assert wrong.status_code == 403
    right = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me", REMOTE_ADDR="203.0.113.9")
    assert right.status_code == 200


SCRIPT = """
import logging, django
django.setup()
logging.getLogger("chat.runs").warning(
    "reply failed: %s", "backend_timeout at https://u:secret@h/v1",
    extra={"chat_id": "6c0f", "message_id": 42},
)
"""


def test_json_logs_carry_ids_and_no_secrets() -> None:
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "1", "LOG_FORMAT": "json", "ENV_FILE": ""}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env | {"DJANGO_SETTINGS_MODULE": "stormchat.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["level"] == "WARNING"
    assert line["logger"] == "chat.runs"
    assert (line["chat_id"], line["message_id"]) == ("6c0f", 42)
    assert "secret" not in result.stderr
    assert "backend_timeout" in line["message"]
