"""Writes for attachments: store an upload, drop an unsent one, send them with a message."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, prefetch_related_objects

from chat.attachments import PreparedFile
from chat.errors import AttachmentTooLarge, NotFound, TooManyAttachments
from chat.models import Attachment, Chat, Message


def attachment_create(*, chat: Chat, prepared: PreparedFile) -> Attachment:
    """Store a prepared upload for the chat's next message (not yet sent with one)."""
    unsent = Attachment.objects.filter(chat=chat, message=None).count()
    if unsent >= settings.ATTACHMENTS_UNSENT_PER_CHAT:
        raise TooManyAttachments(
            f"At most {settings.ATTACHMENTS_UNSENT_PER_CHAT} files can wait to be sent; "
            "send or remove some first."
        )
    attachment = Attachment(
        chat=chat,
        kind=prepared.kind,
        name=prepared.name,
        content_type=prepared.content_type,
        size=len(prepared.data),
        width=prepared.width,
        height=prepared.height,
        text=prepared.text,
    )
    attachment.file.save(prepared.name, ContentFile(prepared.data), save=False)
    if prepared.thumbnail:
        attachment.thumbnail.save(prepared.name, ContentFile(prepared.thumbnail), save=False)
    try:
        attachment.save()
    except BaseException:
        attachment_files_delete(attachment)
        raise
    return attachment


def attachment_delete(*, chat: Chat, attachment_id: uuid.UUID) -> None:
    """Remove an attachment that has not been sent yet (a sent one is the message's)."""
    found = Attachment.objects.filter(chat=chat, pk=attachment_id, message=None).first()
    if found is None:
        raise NotFound("No such attachment waiting to be sent.")
    found.delete()


def attachments_for_message(*, chat: Chat, ids: Sequence[uuid.UUID]) -> list[Attachment]:
    """The chat's unsent attachments with these ids, checked against the per-message
    limits; NotFound if any is missing, someone else's or already sent."""
    if not ids:
        return []
    if len(ids) > settings.ATTACHMENTS_PER_MESSAGE:
        raise TooManyAttachments(
            f"A message can carry at most {settings.ATTACHMENTS_PER_MESSAGE} files."
        )
    found = list(Attachment.objects.filter(chat=chat, message=None, pk__in=set(ids)))
    if len(found) != len(set(ids)):
        raise NotFound("No such attachment waiting to be sent.")
    if sum(a.size for a in found) > settings.ATTACHMENT_MAX_BYTES:
        limit = settings.ATTACHMENT_MAX_BYTES // 1024 // 1024
        raise AttachmentTooLarge(f"One message's files are limited to {limit} MB together.")
    order = {pk: index for index, pk in enumerate(ids)}
    return sorted(found, key=lambda a: order[a.pk])


def attachments_send(*, message: Message, attachments: Sequence[Attachment]) -> None:
    """Send the attachments with this (just saved) user message."""
    if not attachments:
        return
    with transaction.atomic():
        Attachment.objects.filter(pk__in=[a.pk for a in attachments]).update(message=message)
        Message.objects.filter(pk=message.pk).update(
            attachment_count=F("attachment_count") + len(attachments)
        )
    message.attachment_count += len(attachments)
    prefetch_related_objects([message], "attachments")  # for its events, read off-thread


def attachment_files_delete(attachment: Attachment) -> None:
    """Remove an attachment's stored files (its row is gone or never was)."""
    for field in (attachment.file, attachment.thumbnail):
        if field:
            field.storage.delete(field.name)


def attachments_copy(copies: dict[int, Message]) -> None:
    """Give each copied message (by the id of its original) copies of the original's
    attachments, files included, so the copy keeps them whatever becomes of the original
    (a fork)."""
    for original in Attachment.objects.filter(message_id__in=copies):
        message = copies[original.message_id]  # type: ignore[index]
        copy = Attachment(
            chat_id=message.chat_id,
            message=message,
            **{
                name: getattr(original, name)
                for name in ("kind", "name", "content_type", "size", "width", "height", "text")
            },
        )
        for field in ("file", "thumbnail"):
            stored = getattr(original, field)
            if stored:
                with stored.open("rb") as handle:
                    getattr(copy, field).save(original.name, ContentFile(handle.read()), save=False)
        copy.save()
