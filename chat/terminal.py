"""A chat in the terminal, through the same engine as the site.

Each line typed (or piped in) is a turn, started by the same actions as the site's
(chat/actions.py): every open tab of the chat sees its ``ack`` and its stream. This session
reads the chat's group exactly as a browser tab would. The chat is in the site's
database, so it shows up in the browser (live, when REDIS_URL is shared). Ctrl+C stops
a reply that is being written (and quits when none is). ``/new``, ``/regenerate`` and
``/quit`` do what they say.

stdout carries only the conversation, so ``echo hi | manage.py chat kaladin`` prints the
reply; prompts and notes go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, TextIO

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from chat import actions
from chat.errors import ChatError
from chat.events import chat_group
from chat.models import Chat, Message
from chat.ownership import Owner
from chat.runs import background_settled
from chat.selectors import chat_last_message
from personas.models import Persona

COMMANDS = (
    "/new starts over, /regenerate writes another alternative of the last reply, "
    "/swipe N shows alternative N, /continue extends the last reply, /fork branches "
    "the chat from here, /quit leaves; in a scene, /nudge <persona> asks one member to "
    "speak and /auto N lets them talk among themselves for N replies"
)
# How long a scene's next speaker may take to start before the terminal stops waiting.
NEXT_SPEAKER_SECONDS = 30.0


@dataclass
class TerminalChat:
    """One terminal session: a persona, an owner, the current chat, and the streams."""

    persona: Persona
    owner: Owner
    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    interactive: bool
    backend_name: str | None = None
    chat_id: uuid.UUID | None = None
    failures: int = 0
    streaming: bool = False
    quitting: bool = False
    lines: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    # A group scene's members, in order (the first is ``persona``); empty: ``persona`` alone.
    cast: list[Persona] = field(default_factory=list)

    def name_of(self, slug: str | None) -> str:
        """A member's name, from their slug."""
        names = {p.slug: p.name for p in [self.persona, *self.cast]}
        return names.get(slug or "", slug or self.persona.name)

    async def run(self) -> int:
        """Chat until /quit, end of input or Ctrl+C at the prompt; 1 if a reply failed."""
        loop = asyncio.get_running_loop()
        self._read_input_in_background(loop)
        self._handle_ctrl_c(loop)
        if self.chat_id is None:
            await self.new_chat()
        else:
            self.note(f"Continuing chat {self.chat_id}.")
        who = ", ".join(p.name for p in self.cast) if self.cast else self.persona.name
        self.note(f"Talking with {who}. {COMMANDS}. Ctrl+C stops a reply.")
        while not self.quitting:
            self.prompt()
            line = await self.lines.get()
            if line is None:
                break
            text = line.strip()
            if text == "/quit":
                break
            if text == "/new":
                await self.new_chat()
            elif text == "/regenerate":
                await self.turn(kind="regenerate")
            elif text == "/continue":
                await self.turn(kind="continue")
            elif text.startswith("/swipe"):
                await self.swipe(text.removeprefix("/swipe").strip())
            elif text == "/fork":
                await self.fork()
            elif text.startswith("/nudge"):
                await self.turn(kind="nudge", content=text.removeprefix("/nudge").strip())
            elif text.startswith("/auto"):
                await self.turn(kind="auto", content=text.removeprefix("/auto").strip())
            elif text:
                await self.turn(content=line.rstrip("\n"))
        await background_settled(15)  # let the auto-title finish
        return 1 if self.failures else 0

    async def new_chat(self) -> None:
        """Start a fresh chat and show the persona's greeting."""
        chat: Chat = await database_sync_to_async(actions.chat_create)(
            owner=self.owner, personas=self.cast or [self.persona]
        )
        self.chat_id = chat.pk
        greeting = await database_sync_to_async(lambda: chat.messages.get().content)()
        where = " (it is in the owner's history on the site too)" if self.owner.user_id else ""
        self.note(f"New chat {chat.pk}{where}.")
        self.say(f"{self.persona.name}: {greeting}\n")

    async def swipe(self, number: str) -> None:
        """Show alternative ``number`` (from 1) of the last reply."""
        assert self.chat_id is not None
        chat_id = self.chat_id

        def last_reply() -> Message | None:
            chat = Chat(pk=chat_id)
            return chat_last_message(chat=chat, role=Message.Role.ASSISTANT)

        reply = await database_sync_to_async(last_reply)()
        if reply is None or not number.isdigit():
            self.note(f"usage: /swipe N, where N is from 1 to {reply.swipes if reply else 1}")
            return
        try:
            shown = await database_sync_to_async(actions.message_swipe)(
                owner=self.owner, chat_id=chat_id, message_id=reply.pk, index=int(number) - 1
            )
        except ChatError as error:
            self.note(f"error: {error.message}")
            return
        self.note(f"({shown.swipe + 1}/{shown.swipes})")
        self.say(f"{self.persona.name}: {shown.content}\n")

    async def fork(self) -> None:
        """Branch the chat at its newest message and carry on in the new one."""
        assert self.chat_id is not None
        chat_id = self.chat_id

        def newest() -> Message | None:
            return chat_last_message(chat=Chat(pk=chat_id))

        last = await database_sync_to_async(newest)()
        assert last is not None  # a chat always has its greeting
        try:
            forked = await database_sync_to_async(actions.chat_fork)(
                owner=self.owner, chat_id=chat_id, message_id=last.pk
            )
        except ChatError as error:
            self.note(f"error: {error.message}")
            return
        self.chat_id = forked.pk
        self.note(f"Forked into chat {forked.pk} ({forked.title}); carrying on there.")

    async def turn(self, *, content: str = "", kind: str = "chat") -> None:
        """Start the turn (a message, a regeneration or a continuation), then print the
        reply as its batches arrive."""
        assert self.chat_id is not None
        layer = get_channel_layer()
        channel = await layer.new_channel()
        group = chat_group(self.chat_id)
        await layer.group_add(group, channel)
        # An operator's own terminal is not rate limited.
        where: dict[str, Any] = {
            "owner": self.owner,
            "chat_id": self.chat_id,
            "backend_name": self.backend_name,
            "rate_limited": False,
        }
        try:
            if kind == "regenerate":
                job = await actions.turn_regenerate(**where)
            elif kind == "continue":
                job = await actions.turn_continue(**where)
            elif kind == "nudge":
                where.pop("backend_name")
                job = await actions.turn_nudge(persona=content, **where)
            elif kind == "auto":
                where.pop("backend_name")
                turns = int(content) if content.isdigit() else 0
                job = await actions.turn_auto(turns=turns, **where)
            else:
                job = await actions.turn_send(content=content, **where)
        except ChatError as error:
            await layer.group_discard(group, channel)
            self.note(f"error: {error.message}")
            return
        if isinstance(job, actions.Posted):
            await layer.group_discard(group, channel)
            self.note("(nobody was asked to answer: /nudge <persona> asks one)")
            return
        self.streaming = True
        reply_id = job.turn.reply.pk
        # A scene's queue and auto turns follow this reply, each with an ack of its own.
        expected = 1 + len(job.queue) + job.auto
        self.say(f"{self.name_of(job.turn.reply.speaker)}: {job.turn.reply.content}")
        try:
            while True:
                async with asyncio.timeout(None if reply_id else NEXT_SPEAKER_SECONDS):
                    event = await layer.receive(channel)
                reply = event.get("reply") if event["type"] == "chat.ack" else None
                if not reply_id and reply:
                    reply_id = reply["id"]
                    self.say(f"{self.name_of(reply.get('persona'))}: {reply['content']}")
                if _reply_of(event) != reply_id:
                    continue  # the chat's other events (title...)
                if event["type"] == "chat.stream":
                    self.say(event["content"])
                elif event["type"] == "chat.error":
                    self.failures += 1
                    self.note(f"\nerror: {event['message']}")
                elif event["type"] == "chat.complete":
                    status = event["message"]["status"]
                    self.say("\n")
                    if status == "cancelled":
                        self.note("(stopped)")
                    expected -= 1
                    if status != "complete" or expected <= 0:
                        return
                    reply_id = 0  # the next speaker's ack comes next
        except TimeoutError:
            self.note("(the scene rests)")
        finally:
            self.streaming = False
            await layer.group_discard(group, channel)

    async def stop(self) -> None:
        """Stop the reply being written (Ctrl+C)."""
        assert self.chat_id is not None
        with contextlib.suppress(ChatError):  # it finished as the key was pressed
            await actions.turn_stop(owner=self.owner, chat_id=self.chat_id)

    # --- input and output -------------------------------------------------------------

    def _read_input_in_background(self, loop: asyncio.AbstractEventLoop) -> None:
        """Lines from stdin, read on a daemon thread so quitting never waits for Enter."""

        def read() -> None:
            for line in iter(self.stdin.readline, ""):
                loop.call_soon_threadsafe(self.lines.put_nowait, line)
            loop.call_soon_threadsafe(self.lines.put_nowait, None)

        threading.Thread(target=read, name="terminal-input", daemon=True).start()

    def _handle_ctrl_c(self, loop: asyncio.AbstractEventLoop) -> None:
        def interrupted() -> None:
            if self.streaming and self.chat_id is not None:
                loop.create_task(self.stop())
            else:
                self.quitting = True
                self.lines.put_nowait(None)

        # Off the main thread (some test runners) Ctrl+C simply interrupts.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, interrupted)

    def prompt(self) -> None:
        if self.interactive:
            self.stderr.write("You: ")
            self.stderr.flush()

    def say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def note(self, text: str) -> None:
        self.stderr.write(text + "\n")
        self.stderr.flush()


def _reply_of(event: dict[str, Any]) -> int | None:
    """The reply a run's event is about (None for the chat's other events)."""
    if event["type"] in ("chat.stream", "chat.error"):
        return event.get("message_id")
    if event["type"] == "chat.complete":
        return event["message"]["id"]
    return None
