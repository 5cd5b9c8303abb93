from __future__ import annotations

from django.apps import AppConfig


class PersonasConfig(AppConfig):
    """The characters people chat with."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "personas"
