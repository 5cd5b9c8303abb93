"""Lorebooks and their entries (SillyTavern's World Info, Character Card V3's lorebooks).

An entry joins the prompt when one of its keys comes up in the last messages of the chat.
The fields follow Character Card V3 and SillyTavern; ``extensions`` and ``extra`` keep what
Stormchat doesn't use, so a book imported from either exports unchanged.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F

from personas.lore import series


class Lorebook(models.Model):
    """A named set of lore entries, with how it is scanned and how much prompt it may use."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Notes for editors; never sent.")
    scan_depth = models.PositiveSmallIntegerField(
        default=4,
        validators=[MaxValueValidator(1000)],
        help_text="How many of the newest messages are searched for keys.",
    )
    token_budget = models.PositiveIntegerField(
        default=1024,
        validators=[MaxValueValidator(1_000_000)],
        help_text="At most this many tokens of this book's entries go into a prompt.",
    )
    recursive_scanning = models.BooleanField(
        default=False, help_text="Entries that join the prompt can trigger other entries."
    )
    recursion_steps = models.PositiveSmallIntegerField(
        default=3,
        validators=[MaxValueValidator(10)],
        help_text="How many rounds of recursive scanning at most.",
    )
    is_active = models.BooleanField(
        default=True, help_text="An inactive book is never scanned, wherever it is attached."
    )
    is_global = models.BooleanField(
        default=False, help_text="Attached to every persona (for example, a world book)."
    )
    extensions = models.JSONField(
        default=dict, blank=True, help_text="The book's extensions object, kept for export."
    )
    extra = models.JSONField(
        default=dict, blank=True, help_text="Fields of an imported book that Stormchat keeps."
    )
    # Bumped whenever the book or an entry changes: compiled keys are cached per revision.
    revision = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        self.touch()

    def touch(self) -> None:
        """Mark the book changed (an entry was added, edited or removed)."""
        Lorebook.objects.filter(pk=self.pk).update(revision=F("revision") + 1)


class LoreEntry(models.Model):
    """One fact, and when it joins the prompt."""

    class Logic(models.TextChoices):
        """How secondary keys combine with the primary match (SillyTavern's names)."""

        AND_ANY = "and_any", "AND ANY: one secondary key too"
        AND_ALL = "and_all", "AND ALL: every secondary key too"
        NOT_ANY = "not_any", "NOT ANY: no secondary key"
        NOT_ALL = "not_all", "NOT ALL: not every secondary key"

    class Position(models.TextChoices):
        BEFORE_CHAR = "before_char", "Before the character description"
        AFTER_CHAR = "after_char", "After the character description"
        AT_DEPTH = "at_depth", "In the chat, at a depth"
        AUTHORS_NOTE = "authors_note", "In the author's-note slot"

    class Role(models.TextChoices):
        SYSTEM = "system", "System"
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    book = models.ForeignKey(Lorebook, on_delete=models.CASCADE, related_name="entries")
    name = models.CharField(max_length=200, blank=True, help_text="A label for editors.")
    comment = models.TextField(blank=True, help_text="Notes for editors; never sent.")
    keys = models.JSONField(default=list, blank=True, help_text="Words that trigger the entry.")
    secondary_keys = models.JSONField(
        default=list, blank=True, help_text="Checked with the logic below when selective."
    )
    selective = models.BooleanField(default=False, help_text="Use the secondary keys.")
    selective_logic = models.CharField(max_length=8, choices=Logic.choices, default=Logic.AND_ANY)
    use_regex = models.BooleanField(
        default=False, help_text="Keys are regular expressions (/pattern/flags or pattern)."
    )
    case_sensitive = models.BooleanField(default=False)
    match_whole_words = models.BooleanField(
        default=False, help_text="A key matches only as a whole word or phrase."
    )
    content = models.TextField(
        blank=True, help_text="The text that joins the prompt. May start with @@decorators."
    )
    constant = models.BooleanField(default=False, help_text="Always in the prompt.")
    enabled = models.BooleanField(default=True)
    insertion_order = models.IntegerField(
        default=100, help_text="Lower numbers come earlier in the prompt."
    )
    priority = models.IntegerField(
        default=0, help_text="When the budget runs out, higher priorities are kept first."
    )
    position = models.CharField(
        max_length=12, choices=Position.choices, default=Position.BEFORE_CHAR
    )
    depth = models.PositiveSmallIntegerField(
        default=4,
        validators=[MaxValueValidator(10_000)],
        help_text="For 'at a depth': how many messages from the end (0 is after the last).",
    )
    role = models.CharField(max_length=9, choices=Role.choices, default=Role.SYSTEM)
    probability = models.PositiveSmallIntegerField(
        default=100,
        validators=[MaxValueValidator(100)],
        help_text="The chance, in percent, that a match joins the prompt.",
    )
    sticky = models.PositiveSmallIntegerField(
        default=0, help_text="Stays in the prompt this many turns after it joins."
    )
    cooldown = models.PositiveSmallIntegerField(
        default=0, help_text="Can't join again for this many turns after it leaves."
    )
    delay = models.PositiveSmallIntegerField(
        default=0, help_text="Can't join before the chat has this many replies."
    )
    scan_depth = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(1000)],
        help_text="Search this many messages for this entry's keys instead of the book's.",
    )
    reveal = models.CharField(
        max_length=40,
        blank=True,
        choices=series.CHOICES,
        help_text="The book where this fact is revealed: readers who have not read that "
        "far never get it. Empty: known from the start.",
    )
    reveal_chapter = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The chapter of that book, if it matters."
    )
    external_id = models.CharField(
        max_length=64, blank=True, help_text="The entry's id in the file it came from."
    )
    extensions = models.JSONField(default=dict, blank=True)
    extra = models.JSONField(
        default=dict, blank=True, help_text="Fields of an imported entry that Stormchat keeps."
    )

    class Meta:
        ordering = ["book", "insertion_order", "pk"]
        verbose_name_plural = "lore entries"

    def __str__(self) -> str:
        return self.label

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        self.book.touch()

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        book = self.book
        deleted = super().delete(*args, **kwargs)
        book.touch()
        return deleted

    @property
    def label(self) -> str:
        """The entry's name, else its first key, else its number."""
        first = next((str(k) for k in self.keys if str(k).strip()), "") if self.keys else ""
        return self.name or first or f"entry {self.pk}"
