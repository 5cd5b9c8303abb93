"""Staff edit personas here: every field, with search, filters and a prompt preview."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from chat.backends.registry import uses_api_key
from personas.models import Persona
from personas.prompts import persona_greeting, persona_system_text


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "epithet",
        "backend_label",
        "key_bearing",
        "is_active",
        "sort_order",
    ]
    list_editable = ["is_active", "sort_order"]
    list_filter = ["is_active", "backend"]
    search_fields = ["name", "slug", "epithet", "tagline", "system_prompt", "scenario"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["key_bearing", "prompt_preview", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "epithet", "tagline", "is_active", "sort_order"]}),
        ("Character", {"fields": ["system_prompt", "scenario", "greeting", "example_dialogue"]}),
        ("Appearance", {"fields": ["avatar", "avatar_static", "accent_color"]}),
        (
            "Generation",
            {
                "fields": [
                    "backend",
                    "key_bearing",
                    "model",
                    "temperature",
                    "top_p",
                    "max_tokens",
                ]
            },
        ),
        ("Prompt preview", {"fields": ["prompt_preview"]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    @admin.display(description="Backend")
    def backend_label(self, persona: Persona) -> str:
        """The backend override, or a note that the site default answers."""
        return persona.get_backend_display() if persona.backend else "site default"

    @admin.display(description="Uses an API key", boolean=True)
    def key_bearing(self, persona: Persona) -> bool:
        """Whether replies go to a backend with an API key configured (never the key)."""
        return uses_api_key(persona)

    @admin.display(description="What the model receives")
    def prompt_preview(self, persona: Persona) -> str:
        """The composed system message and greeting, exactly as a new chat sends them."""
        if not persona.pk:
            return "Save the persona to see its prompt."
        return format_html(
            '<div style="max-width:70em"><strong>System</strong>'
            '<pre style="white-space:pre-wrap">{}</pre><strong>Greeting</strong>'
            '<pre style="white-space:pre-wrap">{}</pre></div>',
            persona_system_text(persona),
            persona_greeting(persona),
        )
