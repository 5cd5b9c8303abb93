"""Pictures people upload, checked and re-encoded so nothing but pixels is kept.

Pillow reads the header first (the size is checked before anything is decoded), verifies
the file, then decodes it once; the result is a fresh file, so EXIF, text chunks and
anything appended to the file (a polyglot's second format) are gone. A photo is turned
upright from its EXIF orientation before that goes.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 8_400_000  # about 4K: larger avatars are refused before decoding
# A phone's photo (12-16 megapixels) is welcome as an attachment; a 48-megapixel one is
# refused before decoding, as is anything that claims more.
ATTACHMENT_MAX_PIXELS = 25_000_000
FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
THUMBNAIL_SIDE = 320


class ImageRejected(ValueError):
    """The upload is not a picture we take; the message says why."""


@dataclass(frozen=True)
class Picture:
    """An uploaded picture, re-encoded: the file, a thumbnail, and its size in pixels."""

    data: bytes
    content_type: str
    width: int
    height: int
    thumbnail: bytes


def avatar_png(raw: bytes, *, side: int = 256) -> bytes:
    """The picture as a PNG at most ``side`` pixels wide and high."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise ImageRejected(f"Pictures are limited to {MAX_UPLOAD_BYTES // 1024 // 1024} MB.")
    with _decoded(raw, max_pixels=MAX_PIXELS, side=side) as image:
        image.thumbnail((side, side))
        mode = "RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB"
        out = io.BytesIO()
        image.convert(mode).save(out, "PNG")
    return out.getvalue()


def attachment_picture(raw: bytes, *, max_side: int) -> Picture:
    """The picture upright, at most ``max_side`` pixels on its longer side, re-encoded:
    JPEG (quality 85) for photos, PNG where there is transparency; with a thumbnail."""
    with _decoded(raw, max_pixels=ATTACHMENT_MAX_PIXELS, side=max_side) as decoded:
        image = ImageOps.exif_transpose(decoded)
        image.thumbnail((max_side, max_side))
        clear = image.mode in ("RGBA", "LA", "P") and _has_transparency(image)
        image = image.convert("RGBA" if clear else "RGB")
        data = _encoded(image, clear)
        small = image.copy()
        small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        thumbnail = _encoded(small, clear)
        return Picture(
            data=data,
            content_type="image/png" if clear else "image/jpeg",
            width=image.width,
            height=image.height,
            thumbnail=thumbnail,
        )


def _encoded(image: Image.Image, clear: bool) -> bytes:
    out = io.BytesIO()
    if clear:
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def _has_transparency(image: Image.Image) -> bool:
    alpha = image.convert("RGBA").getchannel("A")
    low, _ = alpha.getextrema()
    return bool(low < 255)


@contextmanager
def _decoded(raw: bytes, *, max_pixels: int, side: int) -> Iterator[Image.Image]:
    """The picture, checked and decoded once (JPEGs at the smallest scale that still
    covers ``side``); ImageRejected for anything else."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(raw), formats=FORMATS) as probe:
                width, height = probe.size
                if width * height > max_pixels:
                    raise ImageRejected(f"The picture is {width} x {height}; too large.")
                probe.verify()
            with Image.open(io.BytesIO(raw), formats=FORMATS) as image:
                if image.format == "JPEG":
                    image.draft("RGB", (side, side))
                image.load()
                yield image
        except ImageRejected:
            raise
        except (
            SyntaxError,
            OSError,
            ValueError,
            UnidentifiedImageError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
        ):
            raise ImageRejected("That file is not a PNG, JPEG, WebP or GIF picture.") from None
