"""Pages for people in a browser. Thin: reads come from selectors, writes from services."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from chat.errors import ChatError
from chat.models import Chat
from chat.notify import chat_cleared_sync, chat_listed_sync, chat_unlisted_sync
from chat.ownership import Owner
from chat.presenters import message_data
from chat.rendering import with_html, with_swipe
from chat.selectors import chat_get_for_owner, chat_latest_window, chat_list_for_owner
from chat.services import chat_choose_greeting, chat_create, chat_delete, chat_rename
from personas.selectors import persona_get_active, persona_list_active

CHAT_PAGE_SIZE = 20


def owned_chat_or_404(request: HttpRequest, chat_id: str) -> Chat:
    """The caller's chat; 404 for anyone else's, exactly as for a missing one."""
    chat = chat_get_for_owner(chat_id=chat_id, owner=Owner.from_request(request))
    if chat is None:
        raise Http404("No such chat.")
    return chat


def page_messages(chat: Chat, before: int | None = None) -> tuple[list[dict], bool]:
    """A window of messages as template data, with their Markdown rendered."""
    window = chat_latest_window(chat=chat, before=before)
    messages = [with_html(message_data(m)) for m in window.messages]
    return (with_swipe(messages, chat) if before is None else messages), window.has_more


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The persona gallery. A first visit gets its anonymous session here."""
    Owner.from_request(request)
    return render(request, "personas/gallery.html", {"personas": persona_list_active()})


@require_POST
def chat_new(request: HttpRequest) -> HttpResponse:
    """Start a chat with the chosen persona and open it."""
    persona = persona_get_active(slug=request.POST.get("persona", ""))
    if persona is None:
        raise Http404("No such persona.")
    owner = Owner.from_request(request)
    try:
        chat = chat_create(owner=owner, persona=persona)
    except ChatError as error:
        context = {"personas": persona_list_active(), "error": error.message}
        return render(request, "personas/gallery.html", context, status=error.http_status)
    chat_listed_sync(owner, chat.pk)
    return redirect("chat-page", chat_id=chat.pk)


@require_GET
def chat_page(request: HttpRequest, chat_id: str) -> HttpResponse:
    """One chat: history sidebar, messages and composer."""
    chat = owned_chat_or_404(request, chat_id)
    messages, has_more = page_messages(chat)
    page = chat_list_for_owner(owner=Owner.from_request(request), limit=CHAT_PAGE_SIZE)
    return render(
        request,
        "chat/chat.html",
        {
            "chat": chat,
            "persona": chat.persona,
            "messages": messages,
            "has_more": has_more,
            "page": page,
            "current_chat_id": chat.pk,
        },
    )


@require_GET
def chat_older_messages(request: HttpRequest, chat_id: str) -> HttpResponse:
    """Older messages of a chat, for "load earlier messages"."""
    chat = owned_chat_or_404(request, chat_id)
    before = request.GET.get("before", "")
    messages, has_more = page_messages(chat, int(before) if before.isdigit() else None)
    context = {"chat": chat, "persona": chat.persona, "messages": messages, "has_more": has_more}
    return render(request, "chat/chat.html#older-messages", context)


@require_GET
def chat_list(request: HttpRequest) -> HttpResponse:
    """A page of the history list, optionally searched (HTMX)."""
    try:
        offset = max(int(request.GET.get("offset", 0)), 0)
    except ValueError:
        offset = 0
    query = request.GET.get("q", "").strip()[:100]
    page = chat_list_for_owner(
        owner=Owner.from_request(request), offset=offset, limit=CHAT_PAGE_SIZE, query=query
    )
    context = {"page": page, "query": query, "current_chat_id": request.GET.get("current", "")}
    return render(request, "chat/chat.html#chat-list-page", context)


@require_POST
def chat_rename_view(request: HttpRequest, chat_id: str) -> HttpResponse:
    """Rename a chat; answers with its updated list item (HTMX)."""
    chat = owned_chat_or_404(request, chat_id)
    chat_rename(chat=chat, title=request.POST.get("title", ""))
    chat_listed_sync(Owner.from_request(request), chat.pk)
    context = {"chat": chat, "current_chat_id": request.POST.get("current", "")}
    return render(request, "chat/chat.html#chat-item", context)


@require_POST
def chat_delete_view(request: HttpRequest, chat_id: str) -> HttpResponse:
    """Delete a chat; if it is the open one, go back to the gallery."""
    chat = owned_chat_or_404(request, chat_id)
    chat_delete(chat=chat)
    chat_unlisted_sync(Owner.from_request(request), chat.pk)
    if request.POST.get("current") == str(chat_id):
        return HttpResponseClientRedirect("/")
    return HttpResponse("")


@require_POST
def chat_greeting_view(request: HttpRequest, chat_id: str) -> HttpResponse:
    """Swipe to another of the persona's greetings before the chat begins (HTMX). Every
    open tab of the chat redraws from the same event."""
    chat = owned_chat_or_404(request, chat_id)
    try:
        messages = chat_choose_greeting(chat=chat, index=request.POST.get("index", ""))
    except ChatError as error:
        return HttpResponse(error.message, status=error.http_status)
    chat_cleared_sync(messages)
    context = {
        "chat": chat,
        "persona": chat.persona,
        "message": with_swipe([with_html(message_data(messages[0]))], chat)[0],
    }
    return render(request, "chat/chat.html#message", context)
