"""CHARX: a Character Card V3 in a zip, with ``card.json`` at its root and the assets it
points to as ``embeded://path`` (the spec's spelling).

A CHARX is refused, with a message that says why and nothing saved, when it is too large,
holds too many files, names a path outside the archive (``..``, an absolute path or a
drive), is encrypted, or would inflate far beyond its size (a zip bomb). Sizes are checked
from the archive's directory before anything is inflated, and reads are bounded by them.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import PurePosixPath
from typing import Any

from personas.cards import Card, CardError, card_document, card_from_json

MAX_CHARX_BYTES = 48 * 1024 * 1024
MAX_FILES = 500
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_TOTAL_BYTES = 128 * 1024 * 1024
MAX_CARD_JSON_BYTES = 8 * 1024 * 1024
# Images and audio barely compress; anything this much smaller than it claims to inflate
# to (and bigger than a megabyte) is a bomb, not an asset.
MAX_RATIO = 100
EMBEDDED = "embeded://"
FOLDERS = {"png": "images", "jpg": "images", "jpeg": "images", "webp": "images",
           "gif": "images", "avif": "images", "mp3": "audio", "ogg": "audio", "wav": "audio",
           "mp4": "video", "webm": "video"}  # fmt: skip


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        "\\" not in name
        and not path.is_absolute()
        and ".." not in path.parts
        and ":" not in (path.parts[0] if path.parts else "")
    )


def read_charx(raw: bytes) -> Card:
    """The card of a CHARX, with the embedded files its assets name."""
    if len(raw) > MAX_CHARX_BYTES:
        raise CardError(
            f"The CHARX is {len(raw) / 1024 / 1024:.1f} MB; at most "
            f"{MAX_CHARX_BYTES // 1024 // 1024} MB are accepted."
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as error:
        raise CardError(f"The CHARX is not a valid zip file ({error}).") from None
    with archive:
        infos = archive.infolist()
        _check(infos)
        names = {info.filename: info for info in infos}
        if "card.json" not in names:
            raise CardError("The CHARX has no card.json at its root.")
        card = card_from_json(_read(archive, names["card.json"]).decode("utf-8", "replace"))
        for asset in card.data.get("assets") or []:
            uri = str(asset.get("uri", ""))
            if not uri.startswith(EMBEDDED):
                continue
            path = uri.removeprefix(EMBEDDED)
            if path not in names:
                raise CardError(f"The card's asset {path!r} is not in the CHARX.")
            card.files[path] = _read(archive, names[path])
    return card


def _check(infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_FILES:
        raise CardError(f"The CHARX holds {len(infos)} files; at most {MAX_FILES} are accepted.")
    total = 0
    for info in infos:
        if not _safe_name(info.filename):
            raise CardError(f"The CHARX names a path outside itself: {info.filename!r}.")
        if info.flag_bits & 0x1:
            raise CardError("The CHARX is encrypted; Stormchat reads only unencrypted ones.")
        if info.file_size > MAX_FILE_BYTES:
            raise CardError(
                f"{info.filename!r} inflates to {info.file_size / 1024 / 1024:.0f} MB; a "
                f"file may be at most {MAX_FILE_BYTES // 1024 // 1024} MB."
            )
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise CardError(
                f"{info.filename!r} would inflate {info.file_size // max(info.compress_size, 1)}"
                " times over: that is a zip bomb, not a card."
            )
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise CardError(
            f"The CHARX inflates to {total / 1024 / 1024:.0f} MB; at most "
            f"{MAX_TOTAL_BYTES // 1024 // 1024} MB are accepted."
        )


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    limit = MAX_CARD_JSON_BYTES if info.filename == "card.json" else MAX_FILE_BYTES
    try:
        with archive.open(info) as handle:
            data = handle.read(limit + 1)
    except (zipfile.BadZipFile, OSError, NotImplementedError) as error:
        raise CardError(f"{info.filename!r} in the CHARX can't be read ({error}).") from None
    if len(data) > limit:
        raise CardError(f"{info.filename!r} in the CHARX is larger than it may be.")
    return data


def asset_path(asset_type: str, name: str, ext: str) -> str:
    """Where an asset goes in a CHARX: ``assets/{type}/{images|audio|...}/{name}.{ext}``."""
    folder = FOLDERS.get(ext.lower(), "other")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "asset"
    return f"assets/{asset_type or 'other'}/{folder}/{safe}.{ext or 'bin'}"


def card_charx(card: Card, files: dict[str, bytes]) -> bytes:
    """The card as a CHARX: ``card.json`` and each file at its path."""
    document: dict[str, Any] = card_document(card)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("card.json", json.dumps(document, ensure_ascii=False, indent=2))
        for path, data in files.items():
            archive.writestr(path, data, compress_type=zipfile.ZIP_STORED)
    return out.getvalue()
