"""Card and chat import/export commands, in-process and as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from chat.models import Chat, Message
from chat.ownership import Owner
from chat.services import chat_create, chat_set_scene, reply_finish, turn_start
from personas.models import Persona
from tests.fakes.cards import FULL_CARD, sillytavern_png

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db


def test_cards_import_from_a_folder_and_export_in_every_format(
    tmp_path: Path, kaladin: Persona
) -> None:
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "szeth.png").write_bytes(sillytavern_png(FULL_CARD))
    (cards / "lopen.json").write_text(json.dumps({"name": "Lopen", "first_mes": "Gancho!"}))
    out = StringIO()
    call_command("import_personas", str(cards), stdout=out, stderr=StringIO())
    assert "Imported 2 of 2 cards." in out.getvalue()
    assert Persona.objects.filter(slug__in=["szeth-son-son-vallano", "lopen"]).count() == 2

    for card_format in ("json", "png", "charx"):
        target = tmp_path / card_format
        call_command(
            "export_personas", "kaladin", "lopen", "--format", card_format, "--out", str(target),
            stdout=StringIO(), stderr=StringIO(),
        )  # fmt: skip
        assert sorted(p.name for p in target.iterdir()) == [
            f"kaladin.{card_format}",
            f"lopen.{card_format}",
        ]
    exported = json.loads((tmp_path / "json" / "lopen.json").read_text())
    assert exported["spec"] == "chara_card_v3"
    assert exported["data"]["first_mes"] == "Gancho!"
    again = StringIO()  # every format imports again, the CHARX folder included
    call_command("import_personas", str(tmp_path / "charx"), stdout=again, stderr=StringIO())
    assert "Imported 2 of 2 cards." in again.getvalue()


def test_a_broken_card_is_reported_and_the_exit_status_is_1(tmp_path: Path) -> None:
    (tmp_path / "good.json").write_text(json.dumps(FULL_CARD))
    (tmp_path / "bad.json").write_text("{not json")
    err = StringIO()
    with pytest.raises(CommandError, match=r"Imported 1 of 2 cards\. 1 could not be read"):
        call_command("import_personas", str(tmp_path), stdout=StringIO(), stderr=err)
    assert "bad.json: The card is not valid JSON" in err.getvalue()
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_personas", str(tmp_path / "missing.png"))
    with pytest.raises(CommandError, match="No persona with slug: nobody"):
        call_command("export_personas", "nobody", "--out", str(tmp_path))


def make_chats(kaladin: Persona) -> tuple[User, Chat]:
    alice = User.objects.create_user("alice", password="pw-for-tests-only-1")
    chat = chat_create(owner=Owner(user_id=alice.pk), persona=kaladin, title="Bridge run")
    turn = turn_start(chat_id=chat.pk, content="How do I **survive**?", backend="local", model="m")
    reply_finish(message_id=turn.reply.pk, content="Stay *low*.", status=Message.Status.COMPLETE)
    chat_create(owner=Owner(session_key="s" * 32), persona=kaladin)
    return alice, chat


def test_chats_round_trip_through_jsonl(tmp_path: Path, kaladin: Persona) -> None:
    alice, chat = make_chats(kaladin)
    dump = tmp_path / "chats.jsonl"
    call_command("export_chats", "--out", str(dump), stderr=StringIO())
    records = [json.loads(line) for line in dump.read_text().splitlines()]
    assert len(records) == 2
    before = [(m.role, m.content, m.status, m.position, m.created_at) for m in chat.messages.all()]

    Chat.objects.all().delete()
    out = StringIO()
    call_command("import_chats", str(dump), stdout=out, stderr=StringIO())
    assert "Imported 2 chat(s); 0 already present." in out.getvalue()
    again = Chat.objects.get(pk=chat.pk)
    assert (again.user, again.title, again.created_at) == (alice, "Bridge run", chat.created_at)
    after = [(m.role, m.content, m.status, m.position, m.created_at) for m in again.messages.all()]
    assert after == before
    # A second import changes nothing.
    call_command("import_chats", str(dump), stdout=out, stderr=StringIO())
    assert "Imported 0 chat(s); 2 already present." in out.getvalue()


def test_export_filters_and_markdown(tmp_path: Path, kaladin: Persona) -> None:
    _alice, chat = make_chats(kaladin)
    out = StringIO()
    call_command(
        "export_chats", "--user", "alice", "--format", "markdown", stdout=out, stderr=StringIO()
    )
    text = out.getvalue()
    assert text.startswith("# Bridge run")
    assert "**alice:**\n\nHow do I **survive**?" in text
    assert "**Kaladin:**\n\nStay *low*." in text
    one = StringIO()
    call_command("export_chats", "--chat", str(chat.pk), stdout=one, stderr=StringIO())
    assert [json.loads(line)["id"] for line in one.getvalue().splitlines()] == [str(chat.pk)]
    with pytest.raises(CommandError, match="No chats match"):
        call_command("export_chats", "--user", "nobody", stdout=StringIO(), stderr=StringIO())


def test_import_refuses_bad_lines_clearly(tmp_path: Path, kaladin: Persona) -> None:
    dump = tmp_path / "bad.jsonl"
    record = {"id": "1" * 32, "persona": "nobody", "owner": {"user": "x"}, "messages": []}
    dump.write_text("not json\n" + json.dumps(record) + "\n")
    err = StringIO()
    with pytest.raises(CommandError, match="2 line"):
        call_command("import_chats", str(dump), stdout=StringIO(), stderr=err)
    assert "line 1:" in err.getvalue()
    assert "line 2: no persona 'nobody'" in err.getvalue()


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env={"PATH": os.environ["PATH"], "DEBUG": "1", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_commands_as_subprocesses(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "MEDIA_ROOT": str(tmp_path)}
    assert run_manage("migrate", "-v0", env=env).returncode == 0
    assert run_manage("seed_personas", env=env).returncode == 0
    card = tmp_path / "szeth.png"
    card.write_bytes(sillytavern_png(FULL_CARD))
    imported = run_manage("import_personas", str(card), env=env)
    assert imported.returncode == 0, imported.stderr
    assert "szeth-son-son-vallano" in imported.stdout
    exported = run_manage(
        "export_personas", "--format", "json", "--out", str(tmp_path / "o"), env=env
    )
    assert exported.returncode == 0, exported.stderr
    assert len(list((tmp_path / "o").iterdir())) == 9
    for command in ("import_personas", "export_personas", "export_chats", "import_chats", "chat"):
        helped = run_manage(command, "--help", env=env)
        assert helped.returncode == 0
        assert "usage:" in helped.stdout
    failed = run_manage("import_personas", str(tmp_path / "nope.json"), env=env)
    assert failed.returncode == 1
    assert "no such file" in failed.stderr
    empty = run_manage("export_chats", env=env)
    assert empty.returncode == 1
    assert "No chats match" in empty.stderr
    record = {
        "id": "12345678-1234-5678-1234-567812345678",
        "persona": "szeth-son-son-vallano",
        "title": "Imported",
        "owner": {"session": "s" * 32},
        "created_at": "2026-01-02T03:04:05+00:00",
        "messages": [
            {"role": "assistant", "content": "I am Truthless.", "position": 1},
            {"role": "user", "content": "Why?", "position": 2},
        ],
    }
    dump = tmp_path / "chats.jsonl"
    dump.write_text(json.dumps(record) + "\n")
    loaded = run_manage("import_chats", str(dump), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert "Imported 1 chat(s)" in loaded.stdout
    again = run_manage("export_chats", "--format", "jsonl", env=env)
    assert again.returncode == 0, again.stderr
    exported = json.loads(again.stdout)
    assert exported["id"] == record["id"]
    assert exported["created_at"] == record["created_at"]
    assert [m["content"] for m in exported["messages"]] == ["I am Truthless.", "Why?"]


def test_swipes_and_the_authors_note_survive_export_and_import(
    tmp_path: Path, kaladin: Persona
) -> None:
    _alice, chat = make_chats(kaladin)
    reply = chat.messages.filter(role="assistant").order_by("position").last()
    reply.alternatives, reply.swipe, reply.content = ["First.", "Second."], 0, "First."
    reply.save()
    Chat.objects.filter(pk=chat.pk).update(authors_note="Keep it grim.", authors_note_depth=2)
    dump = tmp_path / "chats.jsonl"
    call_command("export_chats", "--out", str(dump), stderr=StringIO())
    Chat.objects.all().delete()
    call_command("import_chats", str(dump), stdout=StringIO(), stderr=StringIO())
    again = Chat.objects.get(pk=chat.pk)
    assert (again.authors_note, again.authors_note_depth) == ("Keep it grim.", 2)
    restored = again.messages.get(position=reply.position)
    assert (restored.alternative_texts(), restored.swipe) == (["First.", "Second."], 0)

    record = json.loads(dump.read_text().splitlines()[0])
    record["messages"][-1] |= {"alternatives": ["only one"], "swipe": 4}
    record["id"] = "00000000-0000-0000-0000-000000000001"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(record) + "\n")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_chats", str(bad), stdout=StringIO(), stderr=err)
    assert "alternatives must be texts" in err.getvalue()


def test_a_scene_round_trips_with_its_members_speakers_and_witnesses(
    tmp_path: Path, personas: list[Persona]
) -> None:
    cast = [Persona.objects.get(slug=slug) for slug in ("shallan", "kaladin")]
    chat = chat_create(owner=Owner(session_key="s" * 32), personas=cast)
    chat_set_scene(chat=chat, muted=["kaladin"], activation="list")
    dump = tmp_path / "scene.jsonl"
    call_command("export_chats", "--out", str(dump), stderr=StringIO())
    record = json.loads(dump.read_text())
    assert record["members"] == [
        {"persona": "shallan", "muted": False},
        {"persona": "kaladin", "muted": True},
    ]
    assert (record["messages"][0]["persona"], record["messages"][0]["present"]) == (
        "shallan",
        ["shallan", "kaladin"],
    )

    Chat.objects.all().delete()
    call_command("import_chats", str(dump), stdout=StringIO(), stderr=StringIO())
    again = Chat.objects.get(pk=chat.pk)
    members = again.members.order_by("order")
    assert [(m.persona.slug, m.muted) for m in members] == [("shallan", False), ("kaladin", True)]
    assert (again.persona.slug, again.activation) == ("shallan", "list")
    greeting = again.messages.get()
    assert (greeting.speaker, greeting.present) == ("shallan", ["shallan", "kaladin"])
    markdown = StringIO()
    call_command("export_chats", "--format", "markdown", stdout=markdown, stderr=StringIO())
    assert "*Shallan, Kaladin ·" in markdown.getvalue()
    assert "**Shallan:**" in markdown.getvalue()
