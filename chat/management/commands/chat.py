"""``manage.py chat <persona-slug>``: chat with a persona in the terminal."""

from __future__ import annotations

import sys
import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.backends.http import run_closing_client
from chat.backends.registry import BACKENDS
from chat.models import Chat
from chat.ownership import Owner
from chat.terminal import TerminalChat
from personas.models import Persona

# Chats from the terminal with no account to own them belong to this session key.
TERMINAL_SESSION = "terminal-chat"


class Command(BaseCommand):
    help = (
        "Chat with a persona in the terminal. Replies stream token by token and are saved "
        "in the site's database, so the chat appears in the browser of the user who owns "
        "it (--user; default: the first superuser). Ctrl+C stops a reply; /new, "
        "/regenerate, /swipe N, /continue, /fork and /quit; with --personas, a group "
        "scene, with /nudge <persona> and /auto N. Piped input works: "
        "echo 'hi' | manage.py chat kaladin."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("persona", nargs="?", help="The persona's slug, such as kaladin.")
        parser.add_argument(
            "--personas",
            help="A group scene instead: the personas' slugs in order, such as kaladin,shallan.",
        )
        parser.add_argument("--chat", help="Continue this chat (by id) instead of a new one.")
        parser.add_argument(
            "--backend", choices=sorted(BACKENDS),
            help="Answer with this backend (its default model) instead of the persona's.",
        )  # fmt: skip
        parser.add_argument("--user", help="Own new chats as this user (by username).")

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = (options["personas"] or options["persona"] or "").split(",")
        cast = [self.persona(slug.strip()) for slug in wanted if slug.strip()]
        if not cast:
            raise CommandError("Name a persona (kaladin) or a scene (--personas a,b).")
        persona = cast[0]
        owner, chat_id = self.owner_and_chat(options, persona)
        stdin = options.get("stdin") or sys.stdin
        self.stdout.ending = self.stderr.ending = ""  # replies stream without line breaks
        session = TerminalChat(
            persona=persona,
            owner=owner,
            stdin=stdin,
            stdout=self.stdout,
            stderr=self.stderr,
            interactive=stdin.isatty(),
            backend_name=options["backend"],
            chat_id=chat_id,
            cast=cast if len(cast) > 1 else [],
        )
        status = run_closing_client(session.run())
        if status:
            raise CommandError("A reply failed (see the error above).")

    def persona(self, slug: str) -> Persona:
        """The persona with this slug; CommandError naming the known ones otherwise."""
        found = Persona.objects.filter(slug=slug).first()
        if found is None:
            slugs = ", ".join(Persona.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"No persona '{slug}'. Known: {slugs}.")
        return found

    def owner_and_chat(
        self, options: dict[str, Any], persona: Persona
    ) -> tuple[Owner, uuid.UUID | None]:
        """Who owns the chat, and the chat to continue (None for a new one)."""
        if options["chat"]:
            try:
                chat = Chat.objects.filter(pk=uuid.UUID(options["chat"])).first()
            except ValueError:
                chat = None
            if chat is None:
                raise CommandError(f"No chat '{options['chat']}'.")
            if chat.persona_id != persona.pk:
                raise CommandError(f"Chat {chat.pk} is with {chat.persona}, not {persona}.")
            return chat.owner, chat.pk
        users = get_user_model().objects
        if options["user"]:
            user = users.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user '{options['user']}'.")
        else:
            user = users.filter(is_superuser=True, is_active=True).order_by("pk").first()
        if user is None:
            self.stderr.write(
                "No account to own this chat (createsuperuser makes one); it is kept for "
                "the terminal only."
            )
            return Owner(session_key=TERMINAL_SESSION), None
        return Owner(user_id=user.pk), None
