"""Talkativeness (how often a persona speaks up in a group scene) travels in cards as
``extensions.talkativeness``, where SillyTavern keeps it."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from personas.card_services import persona_export_card, persona_import_card
from personas.cards import CardError
from personas.models import Persona
from tests.fakes.cards import FULL_CARD

pytestmark = pytest.mark.django_db


def card_with(extensions: dict[str, Any]) -> bytes:
    card = copy.deepcopy(FULL_CARD)
    card["data"]["extensions"] = extensions
    return json.dumps(card).encode()


@pytest.mark.parametrize(
    ("written", "talkativeness"), [("0.9", 0.9), (0.2, 0.2), (1, 1.0), ("", 0.5), (None, 0.5)]
)
def test_a_cards_talkativeness_sets_the_persona(written: object, talkativeness: float) -> None:
    persona = persona_import_card(raw=card_with({"talkativeness": written, "world": "Roshar"}))
    assert Persona.objects.get(pk=persona.pk).talkativeness == talkativeness
    assert persona.extensions == {"world": "Roshar"}


def test_a_card_without_it_gets_the_default_and_every_export_carries_it() -> None:
    persona = persona_import_card(raw=card_with({}))
    assert persona.talkativeness == 0.5
    persona.talkativeness = 0.75
    persona.save()

    _, exported = persona_export_card(persona=persona, card_format="json")

    assert json.loads(exported)["data"]["extensions"]["talkativeness"] == "0.75"
    again = persona_import_card(raw=exported)
    assert again.talkativeness == 0.75


@pytest.mark.parametrize(
    ("written", "message"),
    [("chatty", "must be a number"), (True, "must be a number"), ([1], "must be a number"),
     (1.5, "from 0 to 1"), ("-0.1", "from 0 to 1"), ("nan", "from 0 to 1")],
)  # fmt: skip
def test_a_bad_talkativeness_refuses_the_card_and_saves_nothing(
    written: object, message: str
) -> None:
    before = Persona.objects.count()
    with pytest.raises(CardError, match=message):
        persona_import_card(raw=card_with({"talkativeness": written}))
    assert Persona.objects.count() == before


def test_the_admin_keeps_it_between_0_and_1(kaladin: Persona) -> None:
    kaladin.talkativeness = 1.2
    with pytest.raises(ValidationError, match="talkativeness"):
        kaladin.full_clean()
