"""The Persona model: who answers, how they sound, and how they are generated."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.templatetags.static import static

from personas.backends import BackendName

hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Enter a colour as #rrggbb, for example #3b82f6.")

MAX_STOP_SEQUENCES = 4  # OpenAI's own limit
MAX_STOP_CHARS = 100


def validate_stop_sequences(value: object) -> None:
    """A list of at most four non-empty strings of at most 100 characters."""
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ValidationError("Stop sequences are a list of non-empty strings.")
    if len(value) > MAX_STOP_SEQUENCES or any(len(item) > MAX_STOP_CHARS for item in value):
        raise ValidationError(
            f"At most {MAX_STOP_SEQUENCES} stop sequences of at most {MAX_STOP_CHARS} "
            "characters each."
        )


def in_range(field: str, low: float, high: float) -> models.CheckConstraint:
    """The database keeps an optional number within its range (empty is allowed)."""
    return models.CheckConstraint(
        condition=models.Q(**{f"{field}__isnull": True})
        | (models.Q(**{f"{field}__gte": low}) & models.Q(**{f"{field}__lte": high})),
        name=f"persona_{field}_range",
    )


class PersonaQuerySet(models.QuerySet["Persona"]):
    """Domain verbs for personas."""

    def active(self) -> PersonaQuerySet:
        """Personas shown in the gallery, in their listing order."""
        return self.filter(is_active=True).order_by("sort_order", "name")


class Persona(models.Model):
    """A character that stays in role, with its own prompt, look and generation settings."""

    slug = models.SlugField(
        max_length=80,
        unique=True,
        help_text="The persona's address in URLs and the API, such as 'kaladin'.",
    )
    name = models.CharField(max_length=120, help_text="The name people see, such as 'Kaladin'.")
    nickname = models.CharField(
        max_length=120,
        blank=True,
        help_text="What {{char}} becomes in prompts, when it isn't the name (a card's nickname).",
    )
    epithet = models.CharField(
        max_length=160,
        blank=True,
        help_text="A title or epithet shown under the name, such as 'Stormblessed'.",
    )
    tagline = models.CharField(
        max_length=240, blank=True, help_text="One short line for the gallery card."
    )
    system_prompt = models.TextField(
        blank=True,
        help_text="The in-character instructions the model receives before every chat. "
        "When empty, a default built from the description and personality is used.",
    )
    description = models.TextField(
        blank=True, help_text="Who the character is: appearance, history, relationships."
    )
    personality = models.TextField(blank=True, help_text="A short summary of the temperament.")
    greeting = models.TextField(help_text="The persona's first message in a new chat.")
    alternate_greetings = models.JSONField(
        default=list,
        blank=True,
        help_text="Other opening messages (a list of texts); people can swipe between them "
        "when a chat starts.",
    )
    example_dialogue = models.TextField(
        blank=True,
        help_text="A few sample exchanges that show the persona's voice to the model.",
    )
    scenario = models.TextField(
        blank=True, help_text="Where and when the conversation takes place."
    )
    post_history_instructions = models.TextField(
        blank=True,
        help_text="Instructions sent after the chat history, just before the model answers.",
    )

    group_only_greetings = models.JSONField(
        default=list, blank=True, help_text="Greetings a card keeps for group chats."
    )
    # Character Card V2/V3 bookkeeping, kept so that an imported card exports unchanged.
    creator_notes_multilingual = models.JSONField(
        default=dict, blank=True, help_text="Creator notes by language code (CCv3)."
    )
    source = models.JSONField(
        default=list,
        blank=True,
        help_text="Where the card came from (ids or URLs); entries are only ever added.",
    )
    creation_date = models.BigIntegerField(
        null=True, blank=True, help_text="The card's creation time (Unix seconds)."
    )
    modification_date = models.BigIntegerField(
        null=True, blank=True, help_text="When the card was last exported (Unix seconds)."
    )
    creator = models.CharField(max_length=200, blank=True, help_text="Who made the card.")
    character_version = models.CharField(
        max_length=100, blank=True, help_text="The card's own version string."
    )
    creator_notes = models.TextField(
        blank=True, help_text="Notes from the card's creator. Never sent to the model."
    )
    tags = models.JSONField(default=list, blank=True, help_text="Tags, as a list of texts.")
    extensions = models.JSONField(
        default=dict,
        blank=True,
        help_text="The card's extensions object, kept as it came for round trips.",
    )
    own_lorebook = models.OneToOneField(
        "personas.Lorebook",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owning_persona",
        help_text="The persona's own book: an imported card's character_book, exported "
        "with its card.",
    )
    lorebooks = models.ManyToManyField(
        "personas.Lorebook",
        blank=True,
        related_name="personas",
        help_text="Other books this persona reads (global books apply to every persona).",
    )
    card_extra = models.JSONField(
        default=dict,
        blank=True,
        help_text="Fields of an imported card that Stormchat doesn't know, kept for export.",
    )

    avatar = models.ImageField(
        upload_to="personas/avatars/",
        blank=True,
        help_text="An uploaded portrait. When empty, the drawn avatar below is used.",
    )
    avatar_static = models.CharField(
        max_length=200,
        blank=True,
        help_text="Path of a drawn avatar under static/, such as 'avatars/kaladin.svg'.",
    )
    accent_color = models.CharField(
        max_length=7,
        default="#3b82f6",
        validators=[hex_colour],
        help_text="The persona's colour on cards and in the chat, as #rrggbb.",
    )

    backend = models.CharField(
        max_length=20,
        choices=BackendName.choices,
        blank=True,
        help_text="Answer with this backend instead of the site default (LLM_BACKEND).",
    )
    model = models.CharField(
        max_length=200,
        blank=True,
        help_text="Answer with this model instead of the backend's default (LLM_MODEL).",
    )
    voice = models.CharField(
        max_length=100,
        blank=True,
        help_text="The speech backend's voice for this persona (TTS_VOICE when empty; the "
        "local engine has one voice, varied by speed and pitch).",
    )
    voice_speed = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(2.0)],
        help_text="How fast the persona speaks, from 0.5 to 2 (1 is the voice's own pace).",
    )
    voice_pitch = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.7), MaxValueValidator(1.4)],
        help_text="How high the persona's voice is on the local engine, from 0.7 to 1.4.",
    )
    talkativeness = models.FloatField(
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="How often the persona speaks up in a group scene, from 0 (only when "
        "named or asked) to 1 (whenever it can); a card's extensions.talkativeness.",
    )
    vision = models.BooleanField(
        default=False,
        help_text="This persona's own backend and model see images (with no backend of its "
        "own, the site's LLM_VISION decides).",
    )
    temperature = models.FloatField(
        default=0.8,
        validators=[MinValueValidator(0.0), MaxValueValidator(2.0)],
        help_text="Sampling temperature, from 0 (focused) to 2 (wild).",
    )
    top_p = models.FloatField(
        default=0.95,
        validators=[MinValueValidator(0.01), MaxValueValidator(1.0)],
        help_text="Nucleus sampling: only the most likely tokens up to this probability mass.",
    )
    max_tokens = models.PositiveIntegerField(
        default=512,
        validators=[MinValueValidator(1), MaxValueValidator(32768)],
        help_text="The longest reply, in tokens.",
    )
    # Sampling that keeps small models in voice; empty leaves the backend's default. Each
    # backend maps these to its own names and leaves out the ones it lacks (llm_check).
    repeat_penalty = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.5), MaxValueValidator(2.0)],
        help_text="Penalise repeating recent tokens: 1 is off, 1.1 to 1.2 stops loops "
        "(Ollama, llama.cpp; Workers AI calls it repetition_penalty).",
    )
    frequency_penalty = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(-2.0), MaxValueValidator(2.0)],
        help_text="Penalise tokens by how often they appeared, from -2 to 2.",
    )
    presence_penalty = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(-2.0), MaxValueValidator(2.0)],
        help_text="Penalise tokens that appeared at all, from -2 to 2.",
    )
    min_p = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Drop tokens less likely than this share of the likeliest one (0.05 is "
        "typical; Ollama, llama.cpp).",
    )
    top_k = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(1000)],
        help_text="Sample from the k likeliest tokens only (0 is off).",
    )
    seed = models.BigIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(2**32 - 1)],
        help_text="A fixed seed makes replies repeatable; empty picks one each time.",
    )
    stop_sequences = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_stop_sequences],
        help_text="Text that ends the reply when the model writes it, such as "
        '["\\nUser:"]. At most 4, each at most 100 characters.',
    )

    is_active = models.BooleanField(
        default=True, help_text="Inactive personas are hidden from the gallery."
    )
    sort_order = models.IntegerField(default=100, help_text="Lower numbers are listed first.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PersonaQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(temperature__gte=0) & models.Q(temperature__lte=2),
                name="persona_temperature_range",
            ),
            models.CheckConstraint(
                condition=models.Q(top_p__gt=0) & models.Q(top_p__lte=1),
                name="persona_top_p_range",
            ),
            models.CheckConstraint(
                condition=models.Q(max_tokens__gte=1), name="persona_max_tokens_positive"
            ),
            in_range("repeat_penalty", 0.5, 2.0),
            in_range("frequency_penalty", -2.0, 2.0),
            in_range("presence_penalty", -2.0, 2.0),
            in_range("min_p", 0.0, 1.0),
            in_range("top_k", 0, 1000),
            in_range("seed", 0, 2**32 - 1),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def char_name(self) -> str:
        """What ``{{char}}`` becomes: the nickname if there is one, else the name."""
        return self.nickname or self.name

    @property
    def avatar_url(self) -> str:
        """The uploaded avatar if there is one, else the drawn one, else a default."""
        if self.avatar:
            return self.avatar.url
        return static(self.avatar_static or "avatars/default.svg")


class PersonaAsset(models.Model):
    """A card's asset other than its main icon (emotions, backgrounds, other icons), kept
    so that it survives a round trip: a file when the card carried it, else its URI."""

    persona = models.ForeignKey(Persona, on_delete=models.CASCADE, related_name="assets")
    type = models.CharField(max_length=40, help_text="icon, background, emotion, user_icon...")
    name = models.CharField(max_length=200)
    ext = models.CharField(max_length=20, help_text="The file extension, such as png.")
    file = models.FileField(upload_to="personas/assets/", blank=True)
    uri = models.CharField(
        max_length=2000, blank=True, help_text="Where the asset lives when it isn't a file here."
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["persona", "order", "pk"]

    def __str__(self) -> str:
        return f"{self.type}: {self.name}"
