"""Operators move lorebooks with manage.py import_lorebook and export_lorebook."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from personas.models import Lorebook, Persona

pytestmark = pytest.mark.django_db

WORLD_INFO = {"entries": {"0": {"uid": 0, "key": ["Syl"], "content": "An honorspren."}}}


def test_a_book_imports_links_and_exports_the_same(tmp_path: Path, kaladin: Persona) -> None:
    source = tmp_path / "spren.json"
    source.write_text(json.dumps(WORLD_INFO))
    call_command("import_lorebook", str(source), "--persona", "kaladin")
    book = Lorebook.objects.get(name="spren")
    assert list(kaladin.lorebooks.all()) == [book]

    call_command("export_lorebook", "spren", "--format", "st", "--out", str(tmp_path / "out"))
    (written,) = (tmp_path / "out").iterdir()
    assert json.loads(written.read_text()) == WORLD_INFO


def test_a_broken_file_is_named_and_the_others_still_import(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(WORLD_INFO))
    bad.write_text("{not json")
    with pytest.raises(CommandError, match="1 of 2"):
        call_command("import_lorebook", str(bad), str(good))
    assert list(Lorebook.objects.values_list("name", flat=True)) == ["good"]
