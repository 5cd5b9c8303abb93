"""HTTP views for people in a browser. Thin: reads come from selectors, writes from services."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from personas.selectors import persona_list_active


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The persona gallery."""
    return render(request, "personas/gallery.html", {"personas": persona_list_active()})
