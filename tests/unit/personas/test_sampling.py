"""Sampling settings travel in cards as ``extensions.stormchat.sampling``."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from personas.card_services import persona_export_card, persona_import_card
from personas.cards import CardError
from personas.models import Persona
from tests.fakes.cards import FULL_CARD

pytestmark = pytest.mark.django_db

SAMPLING = {
    "temperature": 0.6,
    "top_p": 0.9,
    "max_tokens": 300,
    "repeat_penalty": 1.15,
    "frequency_penalty": 0.1,
    "presence_penalty": -0.2,
    "min_p": 0.05,
    "top_k": 40,
    "seed": 1234,
    "stop": ["\nUser:"],
}


def card_with(extensions: dict[str, Any]) -> bytes:
    card = copy.deepcopy(FULL_CARD)
    card["data"]["extensions"] = extensions
    return json.dumps(card).encode()


def test_a_cards_sampling_sets_the_persona_and_exports_again() -> None:
    ours = {"sampling": SAMPLING, "kept": True}
    persona = persona_import_card(raw=card_with({"world": "Roshar", "stormchat": ours}))
    assert (persona.repeat_penalty, persona.min_p, persona.top_k) == (1.15, 0.05, 40)
    assert (persona.temperature, persona.max_tokens, persona.seed) == (0.6, 300, 1234)
    assert persona.stop_sequences == ["\nUser:"]
    # The fields own the sampling now; other extensions stay as they came.
    assert persona.extensions == {"world": "Roshar", "stormchat": {"kept": True}}

    persona = Persona.objects.get(pk=persona.pk)
    _, exported = persona_export_card(persona=persona, card_format="json")
    extensions = json.loads(exported)["data"]["extensions"]
    assert extensions == {
        "world": "Roshar",
        "talkativeness": "0.5",
        "stormchat": {"kept": True, "sampling": SAMPLING},
    }


def test_unset_options_are_left_out_of_the_card() -> None:
    persona = persona_import_card(raw=card_with({}))
    _, exported = persona_export_card(persona=persona, card_format="json")
    sampling = json.loads(exported)["data"]["extensions"]["stormchat"]["sampling"]
    assert set(sampling) == {"temperature", "top_p", "max_tokens"}


@pytest.mark.parametrize(
    ("sampling", "message"),
    [
        ({"repeat_penalty": 9}, "repeat_penalty"),
        ({"min_p": "high"}, "must be a number"),
        ({"top_k": True}, "must be a number"),
        ({"top_k": 4.5}, "whole number"),
        ({"seed": float("inf")}, "finite"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ("fast", "must be an object"),
    ],
    ids=str,
)
def test_bad_sampling_refuses_the_card_and_saves_nothing(sampling: object, message: str) -> None:
    before = Persona.objects.count()
    with pytest.raises(CardError, match=message):
        persona_import_card(raw=card_with({"stormchat": {"sampling": sampling}}))
    assert Persona.objects.count() == before


def test_unknown_sampling_keys_are_ignored() -> None:
    persona = persona_import_card(raw=card_with({"stormchat": {"sampling": {"mirostat": 2}}}))
    assert persona.repeat_penalty is None
