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
    [{"temperature": -0.1}, {"temperature": 2.5}, {"top_p": 0}, {"top_p": 1.5}],
)
def test_sampling_ranges_are_enforced_by_the_database(fields: dict[str, float]) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        make(**fields)


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
