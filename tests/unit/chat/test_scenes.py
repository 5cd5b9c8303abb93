"""Who speaks next in a group scene."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from chat.scenes import Member, named_in, present, speakers
from personas.models import Persona

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def member(slug: str, name: str, *, talkativeness: float = 0.5, muted: bool = False) -> Member:
    persona = Persona(slug=slug, name=name, talkativeness=talkativeness)
    return Member(persona, muted, NOW)


KALADIN, SHALLAN, ADOLIN = (
    member("kaladin", "Kaladin"),
    member("shallan", "Shallan Davar"),
    member("adolin", "Adolin Kholin"),
)
SCENE = [KALADIN, SHALLAN, ADOLIN]


def slugs(members: list[Member]) -> list[str]:
    return [m.slug for m in members]


def test_a_member_named_in_the_last_message_answers() -> None:
    chosen = speakers(
        members=SCENE, activation="natural", last_text="Adolin, and you, Davar?", last_speaker=None
    )
    assert slugs(chosen) == ["adolin"]  # named first; "Davar" is Shallan's, named later
    assert slugs(named_in("ADOLIN? davar!", SCENE)) == ["adolin", "shallan"]


def test_the_draw_never_picks_who_just_spoke_and_follows_talkativeness() -> None:
    chatty = member("wit", "Wit", talkativeness=1.0)
    quiet = member("szeth", "Szeth", talkativeness=0.1)
    chance = random.Random(7)
    picks = Counter(
        speakers(
            members=[KALADIN, chatty, quiet],
            activation="natural",
            last_text="Hello.",
            last_speaker="kaladin",
            chance=chance,
        )[0].slug
        for _ in range(2000)
    )
    assert "kaladin" not in picks
    assert picks["wit"] > 5 * picks["szeth"] > 0


def test_a_member_alone_always_answers_even_after_themselves() -> None:
    for activation in ("natural", "list", "manual"):
        chosen = speakers(
            members=[KALADIN], activation=activation, last_text="Hm.", last_speaker="kaladin"
        )
        assert slugs(chosen) == ["kaladin"]


def test_list_answers_with_every_unmuted_member_and_manual_with_nobody() -> None:
    muted = member("shallan", "Shallan", muted=True)
    scene = [KALADIN, muted, ADOLIN]
    listed = speakers(members=scene, activation="list", last_text="Kaladin!", last_speaker=None)
    assert slugs(listed) == ["kaladin", "adolin"]
    assert speakers(members=scene, activation="manual", last_text="Hi", last_speaker=None) == []
    assert present(scene) == ["kaladin", "adolin"]


def test_muted_members_are_never_chosen_even_when_named() -> None:
    scene = [KALADIN, member("shallan", "Shallan", muted=True)]
    chosen = speakers(members=scene, activation="natural", last_text="Shallan?", last_speaker=None)
    assert slugs(chosen) == ["kaladin"]


def test_nobody_talks_at_all_gets_an_even_draw() -> None:
    silent = [member("a", "Ash", talkativeness=0), member("b", "Bo", talkativeness=0)]
    chosen = speakers(members=silent, activation="natural", last_text="...", last_speaker=None)
    assert len(chosen) == 1


@pytest.mark.parametrize("activation", ["natural", "list", "manual"])
def test_everyone_muted_means_nobody_answers(activation: str) -> None:
    scene = [member("a", "Ash", muted=True), member("b", "Bo", muted=True)]
    assert speakers(members=scene, activation=activation, last_text="?", last_speaker=None) == []
