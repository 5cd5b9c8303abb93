"""Chats and their messages."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models

from chat.ownership import Owner
from personas.lore import series

AUTHORS_NOTE_DEPTH = 4  # SillyTavern's default
MAX_AUTHORS_NOTE_DEPTH = 100
MAX_AUTHORS_NOTE_CHARS = 4000


def exactly_one_owner(name: str) -> models.CheckConstraint:
    """An owner is an account or an anonymous session, never both or neither."""
    return models.CheckConstraint(
        condition=(
            models.Q(user__isnull=False, session_key="")
            | (models.Q(user__isnull=True) & ~models.Q(session_key=""))
        ),
        name=name,
    )


class ChatQuerySet(models.QuerySet["Chat"]):
    """Domain verbs for chats."""

    def owned_by(self, owner: Owner) -> ChatQuerySet:
        """Chats that belong to this user or anonymous session, and nobody else's."""
        if owner.user_id is not None:
            return self.filter(user_id=owner.user_id)
        if owner.session_key:
            return self.filter(user__isnull=True, session_key=owner.session_key)
        return self.none()

    def recent_first(self) -> ChatQuerySet:
        """Most recently active chats first."""
        return self.order_by("-updated_at", "-created_at")


class Activation(models.TextChoices):
    """Who answers a message in a chat with several members."""

    NATURAL = "natural", "Natural"
    LIST = "list", "Everyone in turn"
    MANUAL = "manual", "Only when asked"


class Chat(models.Model):
    """One conversation between an owner and one or more personas (its members; ``persona``
    is the first of them)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="chats",
        help_text="The account that owns this chat, if the owner is logged in.",
    )
    session_key = models.CharField(
        max_length=40,
        blank=True,
        default="",
        help_text="The anonymous session that owns this chat, if it has no account.",
    )
    persona = models.ForeignKey("personas.Persona", on_delete=models.PROTECT, related_name="chats")
    title = models.CharField(max_length=200, blank=True)
    greeting_index = models.PositiveSmallIntegerField(
        default=0,
        help_text="Which of the persona's greetings opens the chat (0 is the main one).",
    )
    read_through = models.CharField(
        max_length=40,
        choices=series.CHOICES,
        default=series.FIRST_BOOK,
        help_text="How far the reader has read: lore revealed later never joins the prompt.",
    )
    lorebooks = models.ManyToManyField(
        "personas.Lorebook",
        blank=True,
        related_name="chats",
        help_text="Books this chat reads on top of its persona's.",
    )
    user_persona = models.ForeignKey(
        "chat.UserPersona",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="chats",
        help_text="Who the owner plays in this chat: {{user}} becomes its name.",
    )
    authors_note = models.TextField(
        blank=True,
        help_text="A note to the model, inserted as a system message on every turn.",
    )
    authors_note_depth = models.PositiveSmallIntegerField(
        default=AUTHORS_NOTE_DEPTH,
        validators=[MaxValueValidator(MAX_AUTHORS_NOTE_DEPTH)],
        help_text="How many messages from the end the author's note goes (0 is last).",
    )
    auto_read = models.BooleanField(
        default=False, help_text="Each new reply is read aloud in the tab that asked for it."
    )
    activation = models.CharField(
        max_length=10,
        choices=Activation.choices,
        default=Activation.NATURAL,
        help_text="Who answers in a group scene: a member named in the last message, else a "
        "draw by talkativeness (natural); every unmuted member in turn (list); or only "
        "whoever is asked (manual).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ChatQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["user", "-updated_at"], name="chat_user_recent"),
            models.Index(fields=["session_key", "-updated_at"], name="chat_session_recent"),
        ]
        constraints = [
            exactly_one_owner("chat_has_exactly_one_owner"),
            models.CheckConstraint(
                condition=models.Q(authors_note_depth__lte=MAX_AUTHORS_NOTE_DEPTH),
                name="chat_authors_note_depth_range",
            ),
        ]

    def __str__(self) -> str:
        return self.title or f"Chat with {self.persona_id}"

    def belongs_to(self, owner: Owner) -> bool:
        """Whether this chat is the owner's: ``Chat.objects.owned_by(owner)`` for one row
        already read."""
        if owner.user_id is not None:
            return self.user_id == owner.user_id
        if owner.session_key:
            return self.user_id is None and self.session_key == owner.session_key
        return False

    @property
    def faces(self) -> list[Any]:
        """The personas of its members, in order (from prefetched members when read so)."""
        return [member.persona for member in self.members.all()] or [self.persona]

    @property
    def cast_names(self) -> str:
        """Who is in it, as an untitled chat is listed: "Kaladin, Shallan"."""
        return ", ".join(face.name for face in self.faces)

    @property
    def owner(self) -> Owner:
        """Who owns this chat."""
        return Owner(user_id=self.user_id, session_key=self.session_key or None)


class ChatMember(models.Model):
    """A persona taking part in a chat. Removing a member deletes the row, so one added
    back joins afresh; a muted member neither speaks nor hears."""

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="members")
    persona = models.ForeignKey("personas.Persona", on_delete=models.PROTECT, related_name="+")
    order = models.PositiveSmallIntegerField(default=0)
    muted = models.BooleanField(default=False)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["chat", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["chat", "persona"], name="member_once_per_chat"),
        ]

    def __str__(self) -> str:
        return f"{self.persona_id} in {self.chat_id}"


class Message(models.Model):
    """One turn of a chat, with the bookkeeping of the generation that produced it."""

    class Role(models.TextChoices):
        SYSTEM = "system", "System"
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        STREAMING = "streaming", "Streaming"
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        INTERRUPTED = "interrupted", "Interrupted"

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField(blank=True)
    # Swipes: every alternative of an assistant reply, in the order they were written
    # (empty while there is only one). ``content`` is always the one shown, alternative
    # number ``swipe``; its slot here may be stale and is refreshed when it is swiped away.
    alternatives = models.JSONField(default=list, blank=True)
    swipe = models.PositiveSmallIntegerField(
        default=0, help_text="Which alternative is shown, counting from 0."
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COMPLETE)
    position = models.PositiveIntegerField(
        help_text="Order within the chat; strictly increasing, never reused."
    )
    backend = models.CharField(max_length=20, blank=True, help_text="The backend that answered.")
    model = models.CharField(max_length=200, blank=True, help_text="The model that answered.")
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    ttft_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Time to first token, in milliseconds."
    )
    duration_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Time from request to the last token, in milliseconds."
    )
    error = models.TextField(blank=True, help_text="Why the generation failed, if it did.")
    lore = models.JSONField(
        default=list,
        blank=True,
        help_text="The lore entries in this reply's prompt: book, entry, the key that "
        "matched and why.",
    )
    lore_dropped = models.JSONField(
        default=list, blank=True, help_text="Entries that matched but the budget left out."
    )
    # How many attachments the message carries, so a prompt reads them only when some
    # message in it has any (most chats have none).
    attachment_count = models.PositiveSmallIntegerField(default=0, db_default=0)
    speaker = models.CharField(
        max_length=60,
        blank=True,
        default="",
        help_text="The slug of the member who wrote this reply (empty for the person's "
        "messages). A persona's slug never changes once it is saved.",
    )
    present = models.JSONField(
        default=list,
        blank=True,
        help_text="The slugs of the members present (joined and not muted) when it was "
        "written: only they remember it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["chat", "position"]
        constraints = [
            # The unique index also serves "a chat's messages by position".
            models.UniqueConstraint(fields=["chat", "position"], name="message_unique_position"),
            # At most one running generation per chat, enforced by the database across
            # processes; the partial index also finds orphaned replies for the reaper.
            models.UniqueConstraint(
                fields=["chat"],
                condition=models.Q(status="streaming"),
                name="message_one_streaming_per_chat",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} #{self.position} in {self.chat_id}"

    def loaded_attachments(self) -> list[Attachment]:
        """The attachments its reader loaded with it (``selectors.with_attachments``);
        never a query, since events and prompts are built off the database thread."""
        cache = getattr(self, "_prefetched_objects_cache", {})
        return list(cache.get("attachments", ()))

    @property
    def swipes(self) -> int:
        """How many alternatives the reply has (1 when it was never regenerated)."""
        return max(1, len(self.alternatives))

    def alternative_texts(self) -> list[str]:
        """Every alternative's text, the shown one current."""
        texts = list(self.alternatives) or [self.content]
        texts[self.swipe] = self.content
        return texts


class UserPersona(models.Model):
    """Who the owner plays: a name and a description the model reads, owned by an
    account or an anonymous session."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="user_personas",
    )
    session_key = models.CharField(max_length=40, blank=True, default="")
    name = models.CharField(max_length=100)
    description = models.TextField(
        blank=True, help_text="Who they are, for the model; it follows the character's."
    )
    avatar = models.ImageField(upload_to="user-personas/", blank=True)
    is_default = models.BooleanField(default=False, help_text="New chats start with this persona.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            exactly_one_owner("user_persona_has_exactly_one_owner"),
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(is_default=True, user__isnull=False),
                name="user_persona_one_default_per_user",
            ),
            models.UniqueConstraint(
                fields=["session_key"],
                condition=models.Q(is_default=True) & ~models.Q(session_key=""),
                name="user_persona_one_default_per_session",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def owner(self) -> Owner:
        return Owner(user_id=self.user_id, session_key=self.session_key or None)


class Reader(models.Model):
    """How far an owner (an account, or an anonymous session) has read the series: the
    default for their new chats, and what they last chose for a chat."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reader",
    )
    session_key = models.CharField(max_length=40, blank=True, default="")
    read_through = models.CharField(
        max_length=40, choices=series.CHOICES, default=series.FIRST_BOOK
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session_key"],
                condition=~models.Q(session_key=""),
                name="reader_unique_session",
            ),
            exactly_one_owner("reader_has_exactly_one_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.session_key}: {self.read_through}"


def attachment_path(attachment: Attachment, filename: str) -> str:
    """Where an attachment's file is stored: a random name, never the uploader's."""
    suffix = filename.rsplit(".", 1)[-1] if "." in filename else "bin"
    return f"attachments/{attachment.chat_id}/{uuid.uuid4().hex}.{suffix}"


class Attachment(models.Model):
    """A picture or a text file sent with a message (before it is sent, with none).
    Stored through Django's storage API and served only to the chat's owner."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        TEXT = "text", "Text file"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attachments",
        help_text="The message it was sent with; empty until then.",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=200, help_text="The file's name, cleaned.")
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField(help_text="Bytes stored (after re-encoding).")
    file = models.FileField(upload_to=attachment_path, max_length=200)
    thumbnail = models.FileField(upload_to=attachment_path, max_length=200, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    text = models.TextField(blank=True, help_text="A text file's content, for the prompt.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["message"], name="attachment_message")]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} in {self.chat_id}"
