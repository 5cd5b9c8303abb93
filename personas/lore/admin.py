"""Staff edit lorebooks here: a book with its entries inline, a searchable list of entries,
the test box, and file import and export (CCv3 lorebook_v3, SillyTavern World Info)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.text import slugify

from personas.downloads import files_response
from personas.lore import series
from personas.lore.formats import LorebookFormatError
from personas.lore.inspection import lorebook_try
from personas.lore.services import (
    MAX_BOOK_BYTES,
    BookFormat,
    lorebook_export_file,
    lorebook_import_file,
)
from personas.models import Lorebook, LoreEntry

ENTRY_FIELDSETS = [
    (None, {"fields": ["name", "keys", "content", "enabled", "constant"]}),
    (
        "Matching",
        {
            "fields": [
                "selective", "secondary_keys", "selective_logic", "use_regex",
                "case_sensitive", "match_whole_words", "scan_depth",
            ],
            "classes": ["collapse"],
        },
    ),
    (
        "Placement and budget",
        {"fields": ["position", "depth", "role", "insertion_order", "priority"],
         "classes": ["collapse"]},
    ),
    (
        "Timing",
        {"fields": ["probability", "sticky", "cooldown", "delay"], "classes": ["collapse"]},
    ),
    ("Spoilers", {"fields": ["reveal", "reveal_chapter"]}),
    ("Notes", {"fields": ["comment", "external_id"], "classes": ["collapse"]}),
]  # fmt: skip


class LoreEntryInline(admin.StackedInline):
    model = LoreEntry
    extra = 0
    fieldsets = ENTRY_FIELDSETS
    show_change_link = True


class BookUploadForm(forms.Form):
    book = forms.FileField(
        help_text="A CCv3 lorebook (spec lorebook_v3) or a SillyTavern World Info .json file."
    )


class BookTestForm(forms.Form):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        max_length=20_000,
        help_text="A message, as someone would write it in a chat.",
    )
    read_through = forms.ChoiceField(
        choices=series.CHOICES,
        initial=series.FIRST_BOOK,
        help_text="How far the reader has read.",
    )


@admin.register(Lorebook)
class LorebookAdmin(admin.ModelAdmin):
    list_display = ["name", "entry_count", "is_active", "is_global", "scan_depth", "token_budget"]
    list_filter = ["is_active", "is_global"]
    search_fields = ["name", "description"]
    inlines = [LoreEntryInline]
    actions = ["export_ccv3", "export_world_info"]
    fieldsets = [
        (None, {"fields": ["name", "description", "is_active", "is_global"]}),
        ("Scanning", {"fields": ["scan_depth", "token_budget", "recursive_scanning",
                                 "recursion_steps"]}),
        ("Round trip", {"fields": ["extensions", "extra"], "classes": ["collapse"]}),
    ]  # fmt: skip
    change_form_template = "admin/personas/lorebook/change_form.html"
    change_list_template = "admin/personas/lorebook/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Lorebook]:
        return super().get_queryset(request).annotate(entry_total=Count("entries"))

    @admin.display(description="Entries", ordering="entry_total")
    def entry_count(self, book: Lorebook) -> int:
        return getattr(book, "entry_total", 0)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="personas_lorebook_import",
            ),
            path(
                "<int:book_id>/test/",
                self.admin_site.admin_view(self.test_view),
                name="personas_lorebook_test",
            ),
        ]
        return [*own, *super().get_urls()]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a book file; a new book is made from it, or the form says what is wrong."""
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        form = BookUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["book"]
            stem = upload.name.rsplit(".", 1)[0]
            try:
                book = lorebook_import_file(upload.read(MAX_BOOK_BYTES + 1), name=stem)
            except LorebookFormatError as error:
                form.add_error("book", str(error))
            else:
                self.message_user(request, f"Imported {book.name}.")
                return HttpResponseRedirect(
                    reverse("admin:personas_lorebook_change", args=[book.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Import a lorebook",
            "form": form,
            "opts": self.model._meta,
        }
        status = 400 if request.method == "POST" else 200
        return TemplateResponse(
            request, "admin/personas/lorebook/import_book.html", context, status=status
        )

    def test_view(self, request: HttpRequest, book_id: int) -> HttpResponse:
        """The test box: which entries a message fires, and why the others don't."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        book = get_object_or_404(Lorebook, pk=book_id)
        form = BookTestForm(request.POST or None)
        verdicts = None
        if request.method == "POST" and form.is_valid():
            verdicts = lorebook_try(
                book,
                text=form.cleaned_data["text"],
                read_through=form.cleaned_data["read_through"],
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Test {book.name}",
            "book": book,
            "form": form,
            "verdicts": verdicts,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/personas/lorebook/test_box.html", context)

    @admin.action(description="Export as CCv3 lorebook (JSON)", permissions=["view"])
    def export_ccv3(self, request: HttpRequest, queryset: QuerySet[Lorebook]) -> HttpResponse:
        return self._books_response(queryset, "ccv3")

    @admin.action(description="Export as SillyTavern World Info (JSON)", permissions=["view"])
    def export_world_info(self, request: HttpRequest, queryset: QuerySet[Lorebook]) -> HttpResponse:
        return self._books_response(queryset, "st")

    def _books_response(self, queryset: QuerySet[Lorebook], book_format: BookFormat) -> Any:
        files = [
            (
                f"{slugify(book.name) or 'lorebook'}-{book.pk}.json",
                lorebook_export_file(book, book_format),
            )
            for book in queryset
        ]
        return files_response(
            files,
            content_type="application/json",
            zip_name=f"stormchat-lorebooks-{book_format}.zip",
        )


@admin.register(LoreEntry)
class LoreEntryAdmin(admin.ModelAdmin):
    """Every entry of every book, searchable by name, key, text and notes."""

    list_display = ["label", "book", "position", "insertion_order", "priority", "reveal", "enabled"]
    list_filter = ["book", "enabled", "constant", "position", "reveal"]
    list_select_related = ["book"]
    search_fields = ["name", "content", "comment", "book__name"]
    fieldsets = [(None, {"fields": ["book"]}), *ENTRY_FIELDSETS]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[LoreEntry], search_term: str
    ) -> tuple[QuerySet[LoreEntry], bool]:
        """Also search the keys (a JSON list, searched as its text)."""
        found, duplicates = super().get_search_results(request, queryset, search_term)
        if search_term:
            by_key = queryset.annotate(key_text=Cast("keys", TextField())).filter(
                key_text__icontains=search_term
            )
            found = found | by_key
        return found, duplicates

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[LoreEntry]) -> None:
        books = {entry.book for entry in queryset.select_related("book")}
        super().delete_queryset(request, queryset)
        for book in books:
            book.touch()
