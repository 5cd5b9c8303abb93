"""Pictures people upload, checked and re-encoded so nothing but pixels is kept.

Pillow reads the header first (the size is checked before anything is decoded), verifies
the file, then decodes it once; the result is a fresh PNG, so EXIF, text chunks and
anything appended to the file are gone.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 8_400_000  # about 4K: larger images are refused before decoding
FORMATS = ("PNG", "JPEG", "WEBP", "GIF")


class ImageRejected(ValueError):
    """The upload is not a picture we take; the message says why."""


def avatar_png(raw: bytes, *, side: int = 256) -> bytes:
    """The picture as a PNG at most ``side`` pixels wide and high."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise ImageRejected(f"Pictures are limited to {MAX_UPLOAD_BYTES // 1024 // 1024} MB.")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(raw), formats=FORMATS) as probe:
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise ImageRejected(f"The picture is {width} x {height}; too large.")
                probe.verify()
            with Image.open(io.BytesIO(raw), formats=FORMATS) as image:
                image.thumbnail((side, side))
                mode = "RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB"
                out = io.BytesIO()
                image.convert(mode).save(out, "PNG")
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
    return out.getvalue()
