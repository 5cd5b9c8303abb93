from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from personas.models import Persona
from personas.prompts import persona_greeting, persona_system_text
from personas.services import _fingerprint, personas_seed, seed_definitions

ROOT = Path(__file__).resolve().parents[3]
STORMLIGHT = ["kaladin", "shallan", "dalinar", "adolin", "szeth", "jasnah", "navani", "wit"]


def test_every_required_persona_ships_with_real_content() -> None:
    definitions = {d["slug"]: d for d in seed_definitions()}
    assert set(STORMLIGHT) <= set(definitions)
    for slug in STORMLIGHT:
        d = definitions[slug]
        assert d["name"].lower() == slug
        assert len(d["system_prompt"]) > 800, slug
        assert d["name"] in d["system_prompt"] or slug == "wit"
        assert len(d["greeting"]) > 100, slug
        assert "{{char}}:" in d["example_dialogue"], slug
        assert (ROOT / "static" / "avatars" / f"{slug}.svg").exists()


@pytest.mark.django_db
def test_seeding_twice_creates_no_duplicates() -> None:
    first = personas_seed()
    second = personas_seed()
    assert sorted(first.created) == sorted(STORMLIGHT)
    assert second.created == []
    assert sorted(second.unchanged) == sorted(STORMLIGHT)
    assert Persona.objects.count() == len(STORMLIGHT)


@pytest.mark.django_db
def test_seeding_keeps_admin_edits_unless_forced() -> None:
    personas_seed()
    Persona.objects.filter(slug="kaladin").update(tagline="Edited by staff", is_active=False)

    personas_seed()
    kaladin = Persona.objects.get(slug="kaladin")
    assert kaladin.tagline == "Edited by staff"
    assert kaladin.is_active is False

    report = personas_seed(force=True)
    kaladin.refresh_from_db()
    assert "kaladin" in report.updated
    assert kaladin.tagline.startswith("A surgeon's son")
    assert Persona.objects.count() == len(STORMLIGHT)


@pytest.mark.django_db
def test_seeding_leaves_personas_it_does_not_ship_alone() -> None:
    Persona.objects.create(slug="lift", name="Lift", system_prompt="x", greeting="y")
    personas_seed(force=True)
    assert Persona.objects.get(slug="lift").system_prompt == "x"


@pytest.mark.django_db
def test_seed_command_reports_and_is_idempotent() -> None:
    out = StringIO()
    call_command("seed_personas", stdout=out)
    call_command("seed_personas", stdout=out)
    assert "8 created" in out.getvalue()
    assert "0 created, 0 reset, 8 left as they were" in out.getvalue()


def test_seed_command_runs_as_a_subprocess(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PATH": "/usr/bin:/bin",
        "DEBUG": "1",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    result = subprocess.run(
        [*manage, "seed_personas", "--force"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "8 created" in result.stdout


@pytest.mark.django_db
def test_system_text_combines_prompt_scenario_and_examples_with_macros(
    kaladin: Persona,
) -> None:
    text = persona_system_text(kaladin, user="Lopen")
    assert text.startswith("You are Kaladin Stormblessed")
    assert "Scenario:\nDalinar Kholin's warcamp" in text
    assert "Kaladin: *He grimaces.*" in text
    assert "Lopen: Are you really" in text
    assert "{{" not in text
    assert persona_greeting(kaladin).startswith("*Kaladin looks up")


OLD_SHIPPED = """
[[persona]]
slug = "kaladin"
name = "Kaladin"
epithet = "Windrunner"
tagline = "Spoils Words of Radiance."
greeting = "Hello."
"""


@pytest.mark.django_db
def test_a_persona_never_edited_since_an_older_release_is_brought_up_to_date(
    tmp_path: Path,
) -> None:
    old = tmp_path / "old.toml"
    old.write_text(OLD_SHIPPED)
    retired = tmp_path / "retired.json"
    none_retired = tmp_path / "none.json"
    none_retired.write_text("{}")
    personas_seed(path=old, retired_path=none_retired)  # as the older release shipped it
    kaladin = Persona.objects.get(slug="kaladin")
    fingerprint = _fingerprint(kaladin)
    retired.write_text(json.dumps({"kaladin": [fingerprint]}))

    report = personas_seed(retired_path=retired)
    kaladin.refresh_from_db()
    assert "kaladin" in report.upgraded
    assert kaladin.epithet == "Stormblessed, of Bridge Four"

    Persona.objects.filter(slug="kaladin").delete()
    personas_seed(path=old, retired_path=none_retired)
    Persona.objects.filter(slug="kaladin").update(tagline="Edited by staff")
    report = personas_seed(retired_path=retired)
    assert "kaladin" in report.unchanged  # an edited persona is never touched
    assert Persona.objects.get(slug="kaladin").epithet == "Windrunner"


@pytest.mark.django_db
def test_shipped_personas_sample_so_the_embedded_model_does_not_loop(tmp_path: Path) -> None:
    # The release before sampling shipped these personas without it; never edited since,
    # they take the new defaults (the real retired.json knows that release).
    before = tmp_path / "before.toml"
    shipped = (ROOT / "personas" / "seed" / "personas.toml").read_text()
    before.write_text("\n".join(
        line for line in shipped.splitlines() if not line.startswith(("repeat_penalty", "min_p"))
    ))  # fmt: skip
    personas_seed(path=before)
    assert Persona.objects.get(slug="kaladin").repeat_penalty is None

    report = personas_seed()
    assert sorted(report.upgraded) == sorted(STORMLIGHT)
    for persona in Persona.objects.filter(slug__in=STORMLIGHT):
        assert (persona.repeat_penalty, persona.min_p) == (1.15, 0.05), persona.slug
    assert personas_seed().upgraded == []  # and once only: later edits are the admin's
