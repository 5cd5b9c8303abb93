"""Pages for people in a browser. Thin: reads come from selectors, changes from actions."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from chat import actions, selectors
from chat.errors import ChatError, NotFound, UnknownPersona
from chat.inputs import number_input, optional_number, settings_input, slug_list, text_input
from chat.models import Chat, UserPersona
from chat.ownership import Owner
from chat.presenters import (
    books_context,
    books_data,
    members_data,
    message_data,
    persona_data,
    user_persona_data,
)
from chat.rendering import addable, with_faces, with_html, with_swipe
from chat.selectors import (
    chat_get_for_owner,
    chat_latest_window,
    chat_list_for_owner,
    chat_own_lorebooks,
    lorebooks_available,
    message_in_chat,
)
from chat.visitors import owner_for_writing
from personas.lore import series
from personas.selectors import persona_list_active, personas_as_read
from stormchat.images import MAX_UPLOAD_BYTES
from stormchat.limits import client_ip

CHAT_PAGE_SIZE = 20


def owned_chat_or_404(request: HttpRequest, chat_id: str) -> Chat:
    """The caller's chat; 404 for anyone else's, exactly as for a missing one."""
    chat = chat_get_for_owner(chat_id=chat_id, owner=Owner.from_request(request))
    if chat is None:
        raise Http404("No such chat.")
    return chat


def page_messages(chat: Chat, before: int | None = None) -> tuple[list[dict], bool]:
    """A window of messages as template data, with their Markdown rendered and each
    reply's face."""
    window = chat_latest_window(chat=chat, before=before)
    members = members_data(chat)
    messages = with_faces([with_html(message_data(m)) for m in window.messages], members)
    if before is None:
        messages = with_swipe(messages, chat, members)
    return messages, window.has_more


def chat_context(chat: Chat) -> dict[str, Any]:
    """What every partial of a chat's page reads: the chat, its persona and its members."""
    return {"chat": chat, "persona": chat.persona, "members": members_data(chat)}


def refused(error: ChatError) -> HttpResponse:
    """A ChatError as a plain-text answer with its status (shown by the page's toasts)."""
    return HttpResponse(error.message, status=error.http_status, content_type="text/plain")


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The persona gallery (no session is made for looking), with the epithets and
    taglines of how far this visitor has read."""
    read_through = selectors.reader_read_through(Owner.from_request(request))
    personas = personas_as_read(persona_list_active(), read_through=read_through)
    context = {"personas": personas, "read_through": read_through, "books": series.CHOICES}
    return render(request, "personas/gallery.html", context)


@require_POST
def reading_view(request: HttpRequest) -> HttpResponse:
    """Say how far you have read, from the gallery; back to the gallery, whose epithets
    and taglines now match."""
    try:
        actions.reader_set_read_through(
            owner=owner_for_writing(request),
            read_through=request.POST.get("read_through", ""),
        )
    except ChatError as error:
        return refused(error)
    if request.htmx:  # the gallery redraws with the epithets of the new setting
        return HttpResponseClientRefresh()
    return redirect("home")


@require_POST
def chat_new(request: HttpRequest) -> HttpResponse:
    """Start a chat with the chosen persona (or a scene with the chosen ``personas``) and
    open it."""
    try:
        slugs = request.POST.getlist("personas") or [request.POST.get("persona", "")]
        cast = actions.personas_for_scene(slug_list(slugs, what="personas"))
        chat = actions.chat_create(
            owner=owner_for_writing(request), personas=cast, address=client_ip(request)
        )
    except UnknownPersona:
        raise Http404("No such persona.") from None
    except ChatError as error:
        context = {"personas": persona_list_active(), "error": error.message}
        return render(request, "personas/gallery.html", context, status=error.http_status)
    return redirect("chat-page", chat_id=chat.pk)


@require_GET
def chat_page(request: HttpRequest, chat_id: str) -> HttpResponse:
    """One chat: history sidebar, messages and composer."""
    chat = owned_chat_or_404(request, chat_id)
    personas_as_read([chat.persona], read_through=chat.read_through)
    messages, has_more = page_messages(chat)
    page = chat_list_for_owner(owner=Owner.from_request(request), limit=CHAT_PAGE_SIZE)
    members = members_data(chat)
    everyone = [persona_data(p) for p in persona_list_active()]
    return render(
        request,
        "chat/chat.html",
        {
            **chat_context(chat),
            "addable": addable(everyone, members),
            "messages": messages,
            "has_more": has_more,
            "page": page,
            "current_chat_id": chat.pk,
            "books": series.CHOICES,
            "user_personas": selectors.user_personas_for_owner(Owner.from_request(request)),
            **books_context(
                books_data(chat_own_lorebooks(chat=chat)), books_data(lorebooks_available())
            ),
        },
    )


@require_GET
def chat_older_messages(request: HttpRequest, chat_id: str) -> HttpResponse:
    """Older messages of a chat, for "load earlier messages"."""
    chat = owned_chat_or_404(request, chat_id)
    try:
        before = optional_number(request.GET.get("before"), what="before")
    except ChatError as error:
        return refused(error)
    messages, has_more = page_messages(chat, before)
    context = {**chat_context(chat), "messages": messages, "has_more": has_more}
    return render(request, "chat/chat.html#older-messages", context)


@require_GET
def chat_message_view(request: HttpRequest, chat_id: str, message_id: str) -> HttpResponse:
    """One message in full, for "Show more" on a long one (HTMX)."""
    chat = owned_chat_or_404(request, chat_id)
    try:
        number = number_input(message_id, what="message_id")
    except ChatError as error:
        return refused(error)
    message = message_in_chat(chat=chat, message_id=number)
    if message is None:
        raise Http404("No such message.")
    context = chat_context(chat)
    shown = [with_html(message_data(message, full=True))]
    context["message"] = with_faces(shown, context["members"])[0]
    return render(request, "chat/chat.html#message", context)


@require_GET
def chat_list(request: HttpRequest) -> HttpResponse:
    """A page of the history list, optionally searched (HTMX)."""
    try:
        offset = optional_number(request.GET.get("offset"), what="offset", low=0) or 0
    except ChatError as error:
        return refused(error)
    query = request.GET.get("q", "").strip()[:100]
    page = chat_list_for_owner(
        owner=Owner.from_request(request), offset=offset, limit=CHAT_PAGE_SIZE, query=query
    )
    context = {"page": page, "query": query, "current_chat_id": request.GET.get("current", "")}
    return render(request, "chat/chat.html#chat-list-page", context)


@require_POST
def chat_rename_view(request: HttpRequest, chat_id: str) -> HttpResponse:
    """Rename a chat; answers with its updated list item (HTMX)."""
    try:
        chat = actions.chat_rename(
            owner=Owner.from_request(request),
            chat_id=chat_id,
            title=text_input(request.POST.get("title", ""), what="A title"),
        )
    except ChatError as error:
        return refused(error)
    context = {"chat": chat, "current_chat_id": request.POST.get("current", "")}
    return render(request, "chat/chat.html#chat-item", context)


@require_POST
def chat_lorebooks_view(request: HttpRequest, chat_id: str) -> HttpResponse:
    """Choose the chat's own lorebooks; answers with the updated control (HTMX)."""
    try:
        ids = [number_input(v, what="lorebook") for v in request.POST.getlist("lorebook")]
        books = actions.chat_set_lorebooks(
            owner=Owner.from_request(request), chat_id=chat_id, book_ids=ids
        )
    except ChatError as error:
        return refused(error)
    books_shown = books_context(books_data(books.chosen), books_data(books.available))
    context = {"current_chat_id": chat_id, **books_shown}
    return render(request, "chat/chat.html#chat-books", context)


@require_POST
def chat_read_through_view(request: HttpRequest, chat_id: str) -> HttpResponse:
    """Set how far the chat's reader has read; answers with the updated control (HTMX)."""
    try:
        chat = actions.chat_set_read_through(
            owner=Owner.from_request(request),
            chat_id=chat_id,
            read_through=request.POST.get("read_through", ""),
        )
    except ChatError as error:
        return refused(error)
    context = {"chat": chat, "persona": chat.persona, "books": series.CHOICES}
    return render(request, "chat/chat.html#reading", context)


@require_POST
def chat_delete_view(request: HttpRequest, chat_id: str) -> HttpResponse:
    """Delete a chat; if it is the open one, go back to the gallery."""
    try:
        actions.chat_delete(owner=Owner.from_request(request), chat_id=chat_id)
    except ChatError as error:
        return refused(error)
    if request.POST.get("current") == str(chat_id):
        return HttpResponseClientRedirect("/")
    return HttpResponse("")


@require_POST
def chat_greeting_view(request: HttpRequest, chat_id: str) -> HttpResponse:
    """Swipe to another of the persona's greetings before the chat begins (HTMX). Every
    open tab of the chat redraws from the same event."""
    owner = Owner.from_request(request)
    try:
        index = number_input(request.POST.get("index", ""), what="index", low=-(10**6))
        messages = actions.chat_choose_greeting(owner=owner, chat_id=chat_id, index=index)
    except ChatError as error:
        return refused(error)
    chat = messages[0].chat
    context = chat_context(chat)
    greeting = with_swipe([with_html(message_data(messages[0]))], chat, context["members"])
    context["message"] = with_faces(greeting, context["members"])[0]
    return render(request, "chat/chat.html#message", context)


@require_POST
def chat_fork_view(request: HttpRequest, chat_id: str) -> HttpResponse:
    """ "Fork from here": a new chat up to this message, opened at once (HTMX)."""
    try:
        message_id = number_input(request.POST.get("message_id", ""), what="message_id")
        fork = actions.chat_fork(
            owner=Owner.from_request(request), chat_id=chat_id, message_id=message_id
        )
    except ChatError as error:
        return refused(error)
    return HttpResponseClientRedirect(reverse("chat-page", args=[fork.pk]))


@require_POST
def chat_settings_view(request: HttpRequest, chat_id: str) -> HttpResponse:
    """The header's author's note and user persona, and the Voice options' auto-read;
    answers with the updated control (every other tab redraws from the ``settings``
    event). Fields left out of the form stay as they are."""
    owner = Owner.from_request(request)
    try:
        fields = ("authors_note", "authors_note_depth", "user_persona", "auto_read")
        form = {key: request.POST[key] for key in fields if key in request.POST}
        chat = actions.chat_set_settings(owner=owner, chat_id=chat_id, **settings_input(form))
    except ChatError as error:
        return refused(error)
    return render(request, "chat/chat.html#chat-settings", settings_context(chat, owner))


def settings_context(chat: Chat, owner: Owner) -> dict[str, object]:
    """What the chat-settings partial needs: the chat and the owner's user personas."""
    return {
        "chat": chat,
        "persona": chat.persona,
        "user_personas": selectors.user_personas_for_owner(owner),
    }


@require_http_methods(["GET", "POST"])
def user_personas_page(request: HttpRequest) -> HttpResponse:
    """Who you play: create user personas, choose the default, delete them."""
    owner = Owner.from_request(request)
    error = ""
    if request.method == "POST":
        try:
            upload = request.FILES.get("avatar")
            fields = {
                "name": request.POST.get("name", ""),
                "description": request.POST.get("description", ""),
                "is_default": request.POST.get("is_default") == "on",
                "avatar": upload.read(MAX_UPLOAD_BYTES + 1) if upload else None,
            }
            if "delete" in request.POST:
                played = _own_user_persona(owner, request.POST["delete"])
                actions.user_persona_delete(owner=owner, played=played)
            elif "update" in request.POST:
                played = _own_user_persona(owner, request.POST["update"])
                actions.user_persona_update(owner=owner, played=played, **fields)
            else:
                actions.user_persona_create(owner=owner_for_writing(request), **fields)
            return redirect("user-personas")
        except ChatError as refusal:
            error = refusal.message
        owner = Owner.from_request(request)
    personas = [user_persona_data(p) for p in selectors.user_personas_for_owner(owner)]
    return render(request, "chat/user_personas.html", {"user_personas": personas, "error": error})


def _own_user_persona(owner: Owner, raw_id: str) -> UserPersona:
    played = selectors.user_persona_for_owner(
        owner=owner, user_persona_id=number_input(raw_id, what="id")
    )
    if played is None:
        raise NotFound("No such user persona.")
    return played
