"""The prompt for a reply: persona and lore first, then as many of the newest turns as fit.

Budget: the backend's context window minus the reply's max_tokens and a safety margin.
The persona's system prompt is never cut; if even the full persona text doesn't fit, the
example dialogue goes first, then the scenario. Lore comes next, within its books' own
budgets and the room the persona leaves (after keeping room for the newest message), and
the chat history fills what is left. Tokens are counted with the backend's tokenizer where
there is one (the embedded model), otherwise estimated at one token per four characters
plus a few tokens of per-message overhead.

Where lore goes: around the description, after the personality or scenario sections, as
messages at a depth in the chat (0 is after the newest message), or in the author's-note
slot: one system message, with the chat's own author's note, at the note's depth.

Who the person plays (their user persona) names ``{{user}}`` and follows the character's
description. A turn that is not a plain reply (continue, impersonate) ends the prompt
with its ``instruction``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from chat.backends.base import Backend, ChatMessage, GenerationOptions, PromptImage
from chat.models import AUTHORS_NOTE_DEPTH, Attachment, Message
from personas.lore import series
from personas.lore.activation import Activation, ScanMessage, activate
from personas.lore.compiled import CompiledBook
from personas.macros import DEFAULT_USER_NAME, Dice, render_macros
from personas.models import LoreEntry, Persona
from personas.prompts import persona_post_history, persona_system_text

PER_MESSAGE_OVERHEAD = 4
# What a picture costs of the context, whatever its size (vision models tile pictures
# into a few hundred tokens each; this errs on the generous side).
IMAGE_TOKENS = 768
SAFETY_MARGIN = 32
Position = LoreEntry.Position
SYSTEM_SLOTS = (Position.BEFORE_CHAR, Position.AFTER_CHAR, "personality", "scenario")


@dataclass(frozen=True)
class LoreSources:
    """The books a chat reads, compiled, and how far its reader has read."""

    books: Sequence[CompiledBook]
    read_through: str = series.FIRST_BOOK


# What a turn that is not a plain reply asks of the model, last in its prompt (as
# SillyTavern's continue and impersonation prompts do, so it works on every backend).
CONTINUE_INSTRUCTION = (
    "[Continue {{char}}'s last message from exactly where it stopped. Do not repeat any "
    "of it, and do not start a new message.]"
)
IMPERSONATE_INSTRUCTION = (
    "[Write {{user}}'s next message to {{char}}, in {{user}}'s own voice and from "
    "{{user}}'s point of view. Write only what {{user}} says and does, never {{char}}'s "
    "words or actions, in one short paragraph.]"
)


@dataclass(frozen=True)
class SceneView:
    """A group scene as one member sees it when they speak: the others present (one line
    of names and epithets), everyone's names for labelling their lines, and whether the
    speaker has just arrived (missed what was said before them)."""

    speaker: str
    names: dict[str, str]
    roster: str = ""
    arrived: bool = False


ARRIVED = (
    "[{{char}} has just arrived and did not hear anything said before; {{char}} knows only "
    "what is said from now on.]"
)


@dataclass(frozen=True)
class AuthorsNote:
    """The chat's note to the model and how many messages from the end it goes."""

    text: str
    depth: int = AUTHORS_NOTE_DEPTH


@dataclass
class BuiltPrompt:
    """The messages to send, and the inspector's record of the lore in them."""

    messages: list[ChatMessage]
    lore: list[dict[str, Any]] = field(default_factory=list)
    lore_dropped: list[dict[str, Any]] = field(default_factory=list)


def spoiler_boundary(read_through: str) -> str:
    """The instruction that keeps the persona to what the reader knows."""
    title = series.book_title(read_through) or series.book_title(series.FIRST_BOOK)
    return (
        f"{{{{user}}}} has read The Stormlight Archive through {title}. Keep to what is "
        f"known by the end of {title}: never mention, hint at or confirm anything that "
        "happens or comes out later in the series."
    )


def build_prompt(
    *,
    persona: Persona,
    history: Sequence[Message],
    backend: Backend,
    options: GenerationOptions,
    user_name: str = DEFAULT_USER_NAME,
    user_description: str = "",
    lore: LoreSources | None = None,
    authors_note: AuthorsNote | None = None,
    instruction: str = "",
    vision: bool = False,
    scene: SceneView | None = None,
) -> BuiltPrompt:
    """The messages to send: system text (with lore), lore and the author's note at their
    depths, the newest turns that fit the budget, then the persona's post-history
    instructions (if any) and the turn's ``instruction``. Pictures go with their turns
    when the model sees them (``vision``); otherwise each is named in the text."""
    reserve = (options.max_tokens or 512) + SAFETY_MARGIN

    def cost(text: str) -> int:
        return backend.count_tokens(text) + PER_MESSAGE_OVERHEAD

    budget = max(backend.context_window - reserve, 0)
    dice = Dice()  # one prompt, one roll of {{pick}}
    closing = spoiler_boundary(lore.read_through) if lore is not None else ""
    after = persona_post_history(persona, user=user_name, dice=dice)
    told = render_macros(instruction, char=persona.char_name, user=user_name, dice=dice)
    closing_texts = [text for text in (after, told) if text]
    after_cost = sum(cost(text) for text in closing_texts)

    def system_text(slots: dict[str, list[str]]) -> str:
        return _fitting_system_text(
            persona, budget, cost, user_name, slots, closing, dice, user_description
        )

    contents = [
        _label(m, scene)
        + render_macros(m.content, char=persona.char_name, user=user_name, dice=dice)
        + _files_text(m, name_pictures=not vision)
        for m in history
    ]
    scene_texts = _scene_texts(scene, persona.char_name, user_name, dice)
    after_cost += sum(cost(text) for text in scene_texts)
    costs = _NewestFirst(contents, cost)
    activation = Activation()
    if lore is not None and lore.books:
        bare = system_text({})
        left = budget - cost(bare) - after_cost
        newest = costs.of(0) if contents else 0
        activation = activate(
            lore.books,
            [_scan_message(m, text) for m, text in zip(history, contents, strict=True)],
            read_through=lore.read_through,
            count_tokens=backend.count_tokens,
            room=max(left - newest, 0),
            at_max_context=costs.over(left),
        )
    slots = {slot: [a.entry.text for a in activation.at(slot)] for slot in SYSTEM_SLOTS}
    system = system_text(slots)
    inserts = _chat_inserts(activation, authors_note, persona.char_name, user_name, dice)
    remaining = budget - cost(system) - after_cost - sum(cost(m["content"]) for _, m in inserts)
    turns: list[ChatMessage] = []
    for index, (message, content) in enumerate(
        zip(reversed(history), reversed(contents), strict=True)
    ):
        pictures = _pictures(message) if vision else []
        needed = costs.of(index) + IMAGE_TOKENS * len(pictures)
        if needed > remaining and turns:
            break
        turn: ChatMessage = {"role": _role(message, scene), "content": content}
        if pictures:
            turn["images"] = [_read(picture) for picture in pictures]
        turns.append(turn)
        remaining -= needed
    turns.reverse()
    for depth, message in sorted(inserts, key=lambda item: -item[0]):
        turns.insert(max(len(turns) - depth, 0), message)
    closing_messages: list[ChatMessage] = [
        {"role": "system", "content": text} for text in closing_texts
    ]
    scene_messages: list[ChatMessage] = [
        {"role": "system", "content": text} for text in scene_texts
    ]
    return BuiltPrompt(
        messages=[
            {"role": "system", "content": system},
            *scene_messages,
            *turns,
            *closing_messages,
        ],
        lore=[a.record() for a in activation.injected],
        lore_dropped=[a.record() for a in activation.dropped],
    )


def _speaks_as_another(message: Message, scene: SceneView | None) -> bool:
    """Whether a reply in the history is another member's (in a scene)."""
    return (
        scene is not None
        and message.role == Message.Role.ASSISTANT
        and message.speaker not in ("", scene.speaker)
    )


def _role(message: Message, scene: SceneView | None) -> str:
    """The speaker's own replies are the assistant's; another member's come as lines
    the speaker hears, like the person's."""
    return Message.Role.USER if _speaks_as_another(message, scene) else message.role


def _label(message: Message, scene: SceneView | None) -> str:
    """Another member's line starts with their name."""
    if not _speaks_as_another(message, scene):
        return ""
    assert scene is not None
    return f"{scene.names.get(message.speaker, 'Someone')}: "


def _scene_texts(scene: SceneView | None, char: str, user: str, dice: Dice) -> list[str]:
    """Who else is in the scene, and (for a newcomer) that they have just arrived."""
    if scene is None:
        return []
    texts = [scene.roster] if scene.roster else []
    if scene.arrived:
        texts.append(render_macros(ARRIVED, char=char, user=user, dice=dice))
    return texts


class _NewestFirst:
    """The history's token costs, newest first, each counted once and only when asked for
    (counting is the embedded model's tokenizer, the costly part of building a prompt)."""

    def __init__(self, contents: Sequence[str], cost: Callable[[str], int]) -> None:
        self.contents = contents
        self.cost = cost
        self.known: list[int] = []

    def of(self, index: int) -> int:
        """The cost of the ``index``-th newest message (0 is the newest)."""
        while len(self.known) <= index:
            self.known.append(self.cost(self.contents[-1 - len(self.known)]))
        return self.known[index]

    def over(self, limit: int) -> bool:
        """Whether the whole history costs more than ``limit`` (stops counting once it does)."""
        total = 0
        for index in range(len(self.contents)):
            total += self.of(index)
            if total > limit:
                return True
        return False


def _files_text(message: Message, *, name_pictures: bool) -> str:
    """A message's text files, inlined after its text as "Content of <name>:" (and, for
    a model that can't see them, its pictures by name)."""
    texts = []
    for attachment in message.loaded_attachments():
        if attachment.kind != Attachment.Kind.TEXT:
            if name_pictures:
                texts.append(f"\n\n[A picture is attached: {attachment.name}]")
            continue
        text, limit = attachment.text, settings.ATTACHMENT_TEXT_MAX_CHARS
        if len(text) > limit:
            text = f"{text[:limit]}\n[... {len(text) - limit:,} more characters not shown]"
        texts.append(f"\n\nContent of {attachment.name}:\n{text}")
    return "".join(texts)


def _pictures(message: Message) -> list[Attachment]:
    return [a for a in message.loaded_attachments() if a.kind == Attachment.Kind.IMAGE]


def _read(picture: Attachment) -> PromptImage:
    """A picture's stored bytes (blocking: prompts are built on a thread of their own)."""
    with picture.file.open("rb") as handle:
        return PromptImage(picture.content_type, handle.read())


def _scan_message(message: Message, text: str) -> ScanMessage:
    return ScanMessage(role=message.role, text=text, lore=message.lore or ())


def _chat_inserts(
    activation: Activation, authors_note: AuthorsNote | None, char: str, user: str, dice: Dice
) -> list[tuple[int, ChatMessage]]:
    """Lore and the author's note that go into the chat itself: (depth, message) pairs.
    Entries at the same depth and role share one message; the author's-note slot (the
    chat's note, then lore placed there) is one system message."""
    grouped: dict[tuple[int, str], list[str]] = {}
    for item in activation.at(Position.AT_DEPTH):
        grouped.setdefault((item.entry.depth, item.entry.role), []).append(item.entry.text)
    note = [a.entry.text for a in activation.at(Position.AUTHORS_NOTE)]
    if authors_note is not None and authors_note.text.strip():
        note.insert(0, authors_note.text.strip())
    if note:
        depth = authors_note.depth if authors_note is not None else AUTHORS_NOTE_DEPTH
        grouped.setdefault((depth, "system"), []).extend(note)
    return [
        (
            depth,
            {
                "role": role,
                "content": render_macros("\n\n".join(texts), char=char, user=user, dice=dice),
            },
        )
        for (depth, role), texts in grouped.items()
    ]


def _fitting_system_text(
    persona: Persona,
    budget: int,
    cost: Callable[[str], int],
    user_name: str,
    lore: dict[str, list[str]],
    closing: str,
    dice: Dice,
    user_description: str,
) -> str:
    """The fullest persona text that fits: drop examples, then scenario, never the prompt.
    Each shorter text is made only when the fuller one does not fit."""
    text = ""
    for blank in ((), ("example_dialogue",), ("example_dialogue", "scenario")):
        text = persona_system_text(
            _without(persona, *blank) if blank else persona,
            user=user_name,
            lore=lore,
            closing=closing,
            dice=dice,
            user_description=user_description,
        )
        if cost(text) <= budget:
            return text
    return text


def _without(persona: Persona, *blank: str) -> Persona:
    """A copy of the persona with these text fields blanked (never saved)."""
    trimmed = copy.copy(persona)
    for name in blank:
        setattr(trimmed, name, "")
    return trimmed
