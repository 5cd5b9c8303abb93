"""Staff can inspect chats and their messages."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from chat import actions
from chat.models import Chat, Message


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["position", "role", "status", "content", "backend", "model", "ttft_ms"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Chat)
class ChatAdmin(admin.ModelAdmin):
    list_display = ["__str__", "persona", "user", "created_at", "updated_at"]
    list_filter = ["persona"]
    search_fields = ["title", "user__username"]
    raw_id_fields = ["user"]
    readonly_fields = ["id", "session_key", "created_at", "updated_at"]
    filter_horizontal = ["lorebooks"]
    inlines = [MessageInline]

    def delete_model(self, request: HttpRequest, obj: Chat) -> None:
        """Delete through the action, so the chat's open pages are told and closed."""
        actions.chat_delete(owner=obj.owner, chat_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Chat]) -> None:
        """The bulk "delete selected" action, one chat at a time through the action."""
        for chat in queryset:
            actions.chat_delete(owner=chat.owner, chat_id=chat.pk)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["chat", "position", "role", "status", "backend", "model", "created_at"]
    list_filter = ["role", "status", "backend"]
    search_fields = ["content"]
    raw_id_fields = ["chat"]
    readonly_fields = ["lore_in_prompt", "lore_over_budget"]
    exclude = ["lore", "lore_dropped"]

    @admin.display(description="Lore in the prompt")
    def lore_in_prompt(self, message: Message) -> str:
        return _lore_lines(message.lore)

    @admin.display(description="Lore left out (over budget)")
    def lore_over_budget(self, message: Message) -> str:
        return _lore_lines(message.lore_dropped)


def _lore_lines(records: list[dict[str, Any]]) -> str:
    """The inspector's record, a line an entry: book, entry, and the key or reason."""
    if not records:
        return "none"
    lines = (
        f"{r.get('book')}: {r.get('entry')} — "
        + (f"key “{r['key']}”" if r.get("key") else str(r.get("why", "")))
        for r in records
    )
    return "\n".join(lines)
