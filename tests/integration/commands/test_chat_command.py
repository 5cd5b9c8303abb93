"""``manage.py chat``: the terminal chat, in-process and as a piped subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings

from chat.models import Chat, Message
from personas.models import Persona
from tests.fakes.llm_server import Reply, openai_sse, paced, serve_in_thread
from tests.integration.servers import prepare_database

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db(transaction=True)
TOKENS = ["Life ", "before ", "death."]


def point_at(settings: Settings, url: str) -> None:
    settings.LLM_BACKEND = "openai"
    settings.LLM_BASE_URL = f"{url}/v1"
    settings.LLM_MODEL = "fake-model"


def test_piped_lines_are_turns_and_the_chat_is_saved_for_the_browser(
    settings: Settings, kaladin: Persona
) -> None:
    admin = User.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    out, err = StringIO(), StringIO()
    with serve_in_thread(Reply(body=openai_sse(TOKENS))) as server:
        point_at(settings, server.url)
        call_command(
            "chat", "kaladin", stdin=StringIO("Hello\n/regenerate\n/quit\nignored\n"),
            stdout=out, stderr=err,
        )  # fmt: skip
    transcript = out.getvalue()
    assert transcript.startswith("Kaladin: *Kaladin looks up")
    assert transcript.count("Kaladin: Life before death.\n") == 2
    chat = Chat.objects.get(user=admin)
    assert [m.role for m in chat.messages.order_by("position")] == [
        "assistant",
        "user",
        "assistant",
    ]
    assert chat.messages.order_by("position").last().content == "Life before death."
    assert "ignored" not in transcript
    assert "/new" in err.getvalue()


def test_new_starts_another_chat_and_chat_continues_one(
    settings: Settings, kaladin: Persona
) -> None:
    with serve_in_thread(Reply(body=openai_sse(TOKENS))) as server:
        point_at(settings, server.url)
        call_command("chat", "kaladin", stdin=StringIO("One\n/new\nTwo\n"), stdout=StringIO())
        assert Chat.objects.count() == 2
        first = Chat.objects.order_by("created_at").first()
        assert first is not None
        call_command(
            "chat", "kaladin", "--chat", str(first.pk), stdin=StringIO("Three\n"),
            stdout=StringIO(), stderr=StringIO(),
        )  # fmt: skip
    contents = list(first.messages.filter(role="user").values_list("content", flat=True))
    assert contents == ["One", "Three"]


def test_failures_exit_non_zero_with_one_clear_line(settings: Settings, kaladin: Persona) -> None:
    settings.LLM_BACKEND = "openai"
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"
    err = StringIO()
    with pytest.raises(CommandError, match="A reply failed"):
        call_command("chat", "kaladin", stdin=StringIO("Hello\n"), stdout=StringIO(), stderr=err)
    assert "cannot be reached" in err.getvalue()
    assert Message.objects.filter(role="user", content="Hello").exists()  # saved anyway
    with pytest.raises(CommandError, match="No persona 'nobody'"):
        call_command("chat", "nobody", stdin=StringIO(""))
    with pytest.raises(CommandError, match="No chat"):
        call_command("chat", "kaladin", "--chat", "not-an-id", stdin=StringIO(""))


def manage(*args: str, stdin: str | None = None, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env={"PATH": os.environ["PATH"], "DEBUG": "1", **env},
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def database(tmp_path: Path) -> dict[str, str]:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    prepare_database({"PATH": os.environ["PATH"], "DEBUG": "1", **env})
    return env


def test_echo_hi_into_the_command_prints_the_reply(database: dict[str, str]) -> None:
    with serve_in_thread(Reply(body=openai_sse(TOKENS))) as server:
        env = {**database, "LLM_BACKEND": "openai", "LLM_BASE_URL": f"{server.url}/v1"}
        process = manage("chat", "kaladin", **env)
        out, err = process.communicate("hi\n", timeout=120)
    assert process.returncode == 0, err
    assert out.rstrip().endswith("Kaladin: Life before death.")


def test_ctrl_c_stops_a_reply_and_keeps_what_was_written(database: dict[str, str]) -> None:
    slow = Reply(body=paced(openai_sse([f"word{i} " for i in range(200)]), 0.05))
    with serve_in_thread(slow) as server:
        env = {**database, "LLM_BACKEND": "openai", "LLM_BASE_URL": f"{server.url}/v1"}
        process = manage("chat", "kaladin", **env)
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write("Tell me everything\n")
        process.stdin.flush()
        deadline = time.monotonic() + 60
        seen = ""
        while "word3 " not in seen and time.monotonic() < deadline:
            seen += process.stdout.read(1)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate("", timeout=60)
    assert process.returncode == 0, err
    assert "(stopped)" in err
    assert "word199" not in seen + out
    check = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "export_chats", "--format", "markdown"],
        env={"PATH": os.environ["PATH"], "DEBUG": "1", **database},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert "*(cancelled)*" in check.stdout
    assert "word3" in check.stdout


def test_backend_overrides_the_personas_backend(settings: Settings, kaladin: Persona) -> None:
    settings.LLM_BACKEND = "local"  # the site answers with the embedded model...
    out = StringIO()
    with serve_in_thread(Reply(body=openai_sse(["From ", "the ", "override."]))) as server:
        settings.OPENAI_BASE_URL = f"{server.url}/v1"  # ...but this session asks OpenAI's API
        call_command(
            "chat", "kaladin", "--backend", "openai", stdin=StringIO("Hi\n"),
            stdout=out, stderr=StringIO(),
        )  # fmt: skip
        assert server.requests[0].json()["model"] == "gpt-4o-mini"
    assert "Kaladin: From the override." in out.getvalue()
    reply = Message.objects.filter(role="assistant").order_by("-pk").first()
    assert reply is not None
    assert reply.backend == "openai"


def test_a_scene_in_the_terminal_with_nudge_and_auto(settings: Settings, kaladin: Persona) -> None:
    def each_in_their_voice(request: Any) -> Reply:
        system = request.json()["messages"][0]["content"]
        if "You name conversations" in system:
            return Reply(body=openai_sse(["Bridge talk"]))
        name = system.split("You are ", 1)[-1].split()[0].strip(".,")
        return Reply(body=openai_sse([f"I am {name}."]))

    out, err = StringIO(), StringIO()
    with serve_in_thread(each_in_their_voice) as server:
        point_at(settings, server.url)
        call_command(
            "chat", "--personas", "kaladin,shallan",
            stdin=StringIO("Shallan, draw this.\n/nudge kaladin\n/auto 2\n/nudge nobody\n/quit\n"),
            stdout=out, stderr=err,
        )  # fmt: skip
    lines = [line for line in out.getvalue().splitlines() if line.startswith(("Kal", "Sha"))]
    assert lines[1:4] == [
        "Shallan: I am Shallan.",
        "Kaladin: I am Kaladin.",
        "Shallan: I am Shallan.",
    ]
    assert lines[4] == "Kaladin: I am Kaladin."  # auto: never the same twice in a row
    assert "'nobody' is not in this scene" in err.getvalue()
    chat = Chat.objects.get()
    assert [m.persona.slug for m in chat.members.order_by("order")] == ["kaladin", "shallan"]
    speakers = list(chat.messages.filter(role="assistant").values_list("speaker", flat=True))
    assert speakers == ["kaladin", "shallan", "kaladin", "shallan", "kaladin"]
