"""Staff edit personas here: every field, with search, filters and a prompt preview,
plus character card import (upload: V3, V2, V1; JSON, PNG, CHARX) and export (actions)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from personas.backends import uses_api_key
from personas.card_services import CardFormat, persona_export_card, persona_import_card
from personas.cards import CardError
from personas.charx import MAX_CHARX_BYTES
from personas.downloads import files_response
from personas.lore import admin as lore_admin  # noqa: F401 (registers the lorebook admin)
from personas.models import Persona
from personas.prompts import persona_greeting, persona_system_text


class CardUploadForm(forms.Form):
    """One Character Card V2 file."""

    card = forms.FileField(
        help_text="A character card (V3, V2 or V1): .png (card inside), .json or .charx."
    )


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    filter_horizontal = ["lorebooks"]
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
    search_fields = [
        "name", "slug", "epithet", "tagline", "system_prompt", "description", "scenario", "creator",
    ]  # fmt: skip
    actions = ["export_png_cards", "export_json_cards", "export_charx_cards"]
    change_list_template = "admin/personas/persona/change_list.html"
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["key_bearing", "prompt_preview", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "epithet", "tagline", "is_active", "sort_order"]}),
        (
            "Character",
            {
                "fields": [
                    "system_prompt",
                    "description",
                    "personality",
                    "scenario",
                    "greeting",
                    "alternate_greetings",
                    "example_dialogue",
                    "post_history_instructions",
                ]
            },
        ),
        (
            "Card",
            {
                "fields": [
                    "creator",
                    "character_version",
                    "creator_notes",
                    "tags",
                    "extensions",
                    "card_extra",
                ],
                "classes": ["collapse"],
            },
        ),
        ("Group scenes", {"fields": ["talkativeness", "group_only_greetings"]}),
        ("Lore", {"fields": ["own_lorebook", "lorebooks"]}),
        ("Appearance", {"fields": ["avatar", "avatar_static", "accent_color"]}),
        (
            "Generation",
            {
                "fields": [
                    "backend",
                    "key_bearing",
                    "model",
                    "vision",
                    "voice",
                    "voice_speed",
                    "voice_pitch",
                    "temperature",
                    "top_p",
                    "max_tokens",
                ]
            },
        ),
        (
            "Sampling",
            {
                "description": "Empty fields leave the backend's own default. A backend "
                "that lacks an option leaves it out (manage.py llm_check names them).",
                "fields": [
                    ("repeat_penalty", "min_p"),
                    ("frequency_penalty", "presence_penalty"),
                    ("top_k", "seed"),
                    "stop_sequences",
                ],
            },
        ),
        ("Prompt preview", {"fields": ["prompt_preview"]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    @admin.display(description="Backend")
    def get_readonly_fields(self, request: HttpRequest, obj: Persona | None = None) -> Any:
        """A saved persona's slug is its public id (URLs, the API, which scene member wrote
        each message): it never changes."""
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "slug"] if obj is not None else fields

    def get_prepopulated_fields(self, request: HttpRequest, obj: Persona | None = None) -> Any:
        return {} if obj is not None else super().get_prepopulated_fields(request, obj)

    def backend_label(self, persona: Persona) -> str:
        """The backend override, or a note that the site default answers."""
        return persona.get_backend_display() if persona.backend else "site default"

    @admin.display(description="Uses an API key", boolean=True)
    def key_bearing(self, persona: Persona) -> bool:
        """Whether replies go to a backend with an API key configured (never the key)."""
        return uses_api_key(persona.backend)

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

    # --- Character Card V2 ---------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        """The admin's own URLs plus the card upload page."""
        upload = path(
            "import-card/",
            self.admin_site.admin_view(self.import_card_view),
            name="personas_persona_import_card",
        )
        return [upload, *super().get_urls()]

    def import_card_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a card; a new persona is made from it, or the form says what is wrong."""
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        form = CardUploadForm(request.POST or None, request.FILES or None)
        status = 200
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["card"]
            try:
                persona = persona_import_card(raw=upload.read(MAX_CHARX_BYTES + 1))
            except CardError as error:
                form.add_error("card", str(error))
            else:
                self.message_user(request, f"Imported {persona.name} as '{persona.slug}'.")
                url = reverse("admin:personas_persona_change", args=[persona.pk])
                return HttpResponseRedirect(url)
        if request.method == "POST":
            status = 400
        context = {
            **self.admin_site.each_context(request),
            "title": "Import a character card",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(
            request, "admin/personas/persona/import_card.html", context, status=status
        )

    @admin.action(description="Export as card (PNG)", permissions=["view"])
    def export_png_cards(self, request: HttpRequest, queryset: QuerySet[Persona]) -> HttpResponse:
        """The selected personas as PNG cards (one file, or a zip of several)."""
        return self._cards_response(queryset, "png")

    @admin.action(description="Export as card (JSON)", permissions=["view"])
    def export_json_cards(self, request: HttpRequest, queryset: QuerySet[Persona]) -> HttpResponse:
        """The selected personas as JSON cards (one file, or a zip of several)."""
        return self._cards_response(queryset, "json")

    @admin.action(description="Export as card (CHARX, with assets)", permissions=["view"])
    def export_charx_cards(self, request: HttpRequest, queryset: QuerySet[Persona]) -> HttpResponse:
        """The selected personas as CHARX archives (one file, or a zip of several)."""
        return self._cards_response(queryset, "charx")

    def _cards_response(self, queryset: QuerySet[Persona], card_format: CardFormat) -> Any:
        files = [persona_export_card(persona=p, card_format=card_format) for p in queryset]
        kind = {"png": "image/png", "json": "application/json"}.get(card_format, "application/zip")
        return files_response(
            files, content_type=kind, zip_name=f"stormchat-cards-{card_format}.zip"
        )
