from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from personas.models import Persona


def make(**fields: object) -> Persona:
    base = {"slug": "lift", "name": "Lift", "system_prompt": "Be Lift.", "greeting": "Hi!"}
    return Persona.objects.create(**{**base, **fields})


@pytest.mark.django_db
def test_slug_is_unique() -> None:
    make()
    with pytest.raises(IntegrityError), transaction.atomic():
        make(name="Another Lift")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"temperature": -0.1},
        {"temperature": 2.5},
        {"top_p": 0},
        {"top_p": 1.5},
        {"repeat_penalty": 0.4},
        {"repeat_penalty": 2.1},
        {"frequency_penalty": -2.5},
        {"presence_penalty": 2.5},
        {"min_p": 1.2},
        {"top_k": 1001},
        {"seed": -1},
        {"seed": 2**32},
    ],
)
def test_sampling_ranges_are_enforced_by_the_database(fields: dict[str, float]) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        make(**fields)


@pytest.mark.django_db
def test_sampling_options_are_optional_and_kept_within_range() -> None:
    persona = make(repeat_penalty=1.15, min_p=0.05, top_k=0, seed=2**32 - 1)
    persona.full_clean()
    bare = make(slug="bare")
    assert (bare.repeat_penalty, bare.min_p, bare.stop_sequences) == (None, None, [])


@pytest.mark.django_db
@pytest.mark.parametrize("stop", [["ok"] * 5, ["x" * 101], [""], "not a list", [3]], ids=str)
def test_stop_sequences_are_at_most_four_short_texts(stop: object) -> None:
    persona = make(stop_sequences=stop)
    with pytest.raises(ValidationError) as error:
        persona.full_clean()
    assert "stop_sequences" in error.value.message_dict


@pytest.mark.django_db
def test_accent_colour_must_be_hex() -> None:
    persona = make(accent_color="blue")
    with pytest.raises(ValidationError) as error:
        persona.full_clean()
    assert "accent_color" in error.value.message_dict


@pytest.mark.django_db
def test_active_lists_only_active_personas_in_sort_order() -> None:
    make(slug="b", name="B", sort_order=2)
    make(slug="a", name="A", sort_order=1)
    make(slug="c", name="C", sort_order=0, is_active=False)
    assert [p.slug for p in Persona.objects.active()] == ["a", "b"]


@pytest.mark.django_db
def test_avatar_url_prefers_upload_then_drawn_then_default() -> None:
    persona = make(avatar_static="avatars/kaladin.svg")
    assert persona.avatar_url.endswith("avatars/kaladin.svg")
    persona.avatar_static = ""
    assert persona.avatar_url.endswith("avatars/default.svg")
    persona.avatar.name = "personas/avatars/lift.png"
    assert persona.avatar_url.endswith("media/personas/avatars/lift.png")
