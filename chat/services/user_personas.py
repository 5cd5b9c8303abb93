"""Writes for user personas: who the owner plays in their chats."""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile
from django.db import transaction

from chat.errors import BadRequest
from chat.models import UserPersona
from chat.ownership import Owner
from chat.selectors import owned_user_personas
from stormchat.images import ImageRejected, avatar_png
from stormchat.text import without_nul

MAX_DESCRIPTION_CHARS = 4000
MAX_PER_OWNER = 50


def _name(name: str) -> str:
    name = " ".join(without_nul(name).split())
    if not name:
        raise BadRequest("A user persona needs a name.")
    return name[: UserPersona._meta.get_field("name").max_length]


def _description(text: str) -> str:
    text = without_nul(text).strip()
    if len(text) > MAX_DESCRIPTION_CHARS:
        raise BadRequest(f"A description is at most {MAX_DESCRIPTION_CHARS:,} characters.")
    return text


def user_persona_create(
    *,
    owner: Owner,
    name: str,
    description: str = "",
    is_default: bool = False,
    avatar: bytes | None = None,
) -> UserPersona:
    """A new user persona for this owner (the default for new chats, if asked)."""
    if not owner.is_known:
        raise ValueError("A user persona needs an owner.")
    played = UserPersona(
        user_id=owner.user_id,
        session_key="" if owner.user_id else (owner.session_key or ""),
        name=_name(name),
        description=_description(description),
    )
    with transaction.atomic():
        if owned_user_personas(owner).count() >= MAX_PER_OWNER:
            raise BadRequest(f"You can keep at most {MAX_PER_OWNER} user personas.")
        if avatar is not None:
            _set_avatar(played, avatar)
        played.save()
        if is_default:
            _make_default(played)
    return played


def user_persona_update(
    *,
    played: UserPersona,
    name: str | None = None,
    description: str | None = None,
    is_default: bool | None = None,
    avatar: bytes | None = None,
) -> UserPersona:
    """Change the fields given; ``is_default`` True makes it the only default."""
    if name is not None:
        played.name = _name(name)
    if description is not None:
        played.description = _description(description)
    with transaction.atomic():
        if avatar is not None:
            _set_avatar(played, avatar)
        if is_default is False:
            played.is_default = False
        played.save()
        if is_default:
            _make_default(played)
    return played


def user_persona_delete(*, played: UserPersona) -> None:
    """Delete it; chats that used it go back to the owner's own name."""
    if played.avatar:
        played.avatar.delete(save=False)
    played.delete()


def _make_default(played: UserPersona) -> None:
    owned_user_personas(played.owner).exclude(pk=played.pk).filter(is_default=True).update(
        is_default=False
    )
    UserPersona.objects.filter(pk=played.pk).update(is_default=True)
    played.is_default = True


def _set_avatar(played: UserPersona, raw: bytes) -> None:
    try:
        png = avatar_png(raw)
    except ImageRejected as error:
        raise BadRequest(str(error)) from None
    if played.avatar:
        played.avatar.delete(save=False)
    digest = hashlib.sha256(png).hexdigest()[:16]
    played.avatar.save(f"{digest}.png", ContentFile(png), save=False)
