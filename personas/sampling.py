"""A persona's sampling settings in a card: ``extensions.stormchat.sampling``.

The card spec has no sampling fields, so Stormchat keeps them under its own extension
key, where other apps leave them alone. Keys are the option names every backend maps from
(chat/backends/base.py), with ``stop`` for the stop sequences.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from personas.models import Persona

# Card key -> Persona field.
CARD_SAMPLING = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "max_tokens",
    "repeat_penalty": "repeat_penalty",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "min_p": "min_p",
    "top_k": "top_k",
    "seed": "seed",
    "stop": "stop_sequences",
}
INTEGER_FIELDS = frozenset({"max_tokens", "top_k", "seed"})


class SamplingError(ValueError):
    """The card's sampling settings are not usable; the message says which and why."""


def sampling_extension(persona: Persona) -> dict[str, Any]:
    """The persona's sampling as the card's ``extensions.stormchat.sampling``; unset
    options are left out."""
    values = {key: getattr(persona, field) for key, field in CARD_SAMPLING.items()}
    return {key: value for key, value in values.items() if value not in (None, [])}


def sampling_from_extensions(extensions: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Persona fields a card's extensions set, checked against the fields' own
    validators (SamplingError names the first bad one), and the extensions without the
    sampling, which then lives in those fields."""
    from personas.models import Persona

    ours = extensions.get("stormchat")
    if not isinstance(ours, dict) or "sampling" not in ours:
        return {}, extensions
    sampling = ours["sampling"]
    if not isinstance(sampling, dict):
        raise SamplingError("extensions.stormchat.sampling must be an object.")
    fields: dict[str, Any] = {}
    for key, value in sampling.items():
        if key not in CARD_SAMPLING:
            continue  # a newer Stormchat's option: ignored, as readers ignore unknown keys
        name = CARD_SAMPLING[key]
        field = Persona._meta.get_field(name)
        numeric = key != "stop"
        if numeric and (isinstance(value, bool) or not isinstance(value, int | float)):
            if value is None and field.null:
                fields[name] = None
                continue
            raise SamplingError(f"Sampling option {key!r} must be a number.")
        if numeric and not math.isfinite(value):
            raise SamplingError(f"Sampling option {key!r} must be a finite number.")
        if key in INTEGER_FIELDS:
            if value != int(value):
                raise SamplingError(f"Sampling option {key!r} must be a whole number.")
            value = int(value)
        try:
            field.run_validators(value)
        except ValidationError as error:
            raise SamplingError(f"Sampling option {key!r}: {' '.join(error.messages)}") from None
        fields[name] = value
    rest = {k: v for k, v in ours.items() if k != "sampling"}
    others = {k: v for k, v in extensions.items() if k != "stormchat"}
    return fields, (others | {"stormchat": rest} if rest else others)
