"""What an uploaded file becomes: a re-encoded picture or a text file for the prompt.

The kind is decided by the content, never the name: a picture is whatever Pillow reads
as PNG, JPEG, WebP or GIF (and it is re-encoded, so only its pixels are kept); a text file
must also be named .txt, .md, .json or .csv, be UTF-8 without NUL bytes, and, as .json,
parse. Everything else is refused with ``unsupported_file``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings

from chat.errors import AttachmentTooLarge, UnsupportedFile
from chat.models import Attachment
from stormchat.images import ImageRejected, attachment_picture

TEXT_TYPES = {
    "txt": "text/plain",
    "md": "text/markdown",
    "json": "application/json",
    "csv": "text/csv",
}
MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class PreparedFile:
    """An upload checked and converted, ready to store."""

    kind: str
    name: str
    content_type: str
    data: bytes
    thumbnail: bytes = b""
    width: int | None = None
    height: int | None = None
    text: str = ""


def clean_name(name: str) -> str:
    """The file's own name without folders, control characters or odd spacing."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")
    base = " ".join(base.split()).strip(". ")
    return base[:MAX_NAME_CHARS] or "file"


def prepare_upload(name: str, data: bytes) -> PreparedFile:
    """The upload as it will be stored (blocking: decodes pictures)."""
    limit = settings.ATTACHMENT_MAX_BYTES
    if len(data) > limit:
        raise AttachmentTooLarge(f"Files are limited to {limit // 1024 // 1024} MB.")
    name = clean_name(name)
    try:
        picture = attachment_picture(data, max_side=settings.IMAGE_MAX_SIDE)
    except ImageRejected as rejected:
        if "too large" in str(rejected):
            raise UnsupportedFile(str(rejected)) from None
        return _text_file(name, data)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    suffix = "png" if picture.content_type == "image/png" else "jpg"
    return PreparedFile(
        kind=Attachment.Kind.IMAGE,
        name=f"{stem}.{suffix}"[-MAX_NAME_CHARS:],
        content_type=picture.content_type,
        data=picture.data,
        thumbnail=picture.thumbnail,
        width=picture.width,
        height=picture.height,
    )


def _text_file(name: str, data: bytes) -> PreparedFile:
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    refused = UnsupportedFile(
        "Attach pictures (PNG, JPEG, WebP, GIF) or text files (.txt, .md, .json, .csv)."
    )
    if suffix not in TEXT_TYPES or b"\x00" in data:
        raise refused
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise refused from None
    if suffix == "json":
        try:
            json.loads(text)
        except ValueError:
            raise UnsupportedFile(f"{name} is not valid JSON.") from None
    return PreparedFile(
        kind=Attachment.Kind.TEXT,
        name=name,
        content_type=TEXT_TYPES[suffix],
        data=data,
        text=text,
    )
