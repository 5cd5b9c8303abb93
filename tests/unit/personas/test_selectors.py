from __future__ import annotations

import pytest
from pytest_django import DjangoAssertNumQueries

from personas.models import Persona
from personas.selectors import persona_as_saved


@pytest.mark.django_db
def test_a_saved_revision_is_read_once_and_handed_out_as_copies(
    kaladin: Persona, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    first = persona_as_saved(persona_id=kaladin.pk, updated_at=kaladin.updated_at)
    assert first is not None
    assert first.system_prompt == kaladin.system_prompt
    first.epithet = "Changed by one caller"
    with django_assert_num_queries(0):
        again = persona_as_saved(persona_id=kaladin.pk, updated_at=kaladin.updated_at)
    assert again is not None
    assert again.epithet == kaladin.epithet


@pytest.mark.django_db
def test_a_new_revision_is_read_again(kaladin: Persona) -> None:
    persona_as_saved(persona_id=kaladin.pk, updated_at=kaladin.updated_at)
    kaladin.system_prompt = "You are Kaladin, now a Windrunner of the fourth ideal."
    kaladin.save()
    fresh = persona_as_saved(persona_id=kaladin.pk, updated_at=kaladin.updated_at)
    assert fresh is not None
    assert fresh.system_prompt == kaladin.system_prompt


@pytest.mark.django_db
def test_a_deleted_persona_is_none(kaladin: Persona) -> None:
    saved_at, pk = kaladin.updated_at, kaladin.pk
    kaladin.delete()
    assert persona_as_saved(persona_id=pk, updated_at=saved_at) is None
