"""Draw the app icons (``static/icons/``) from the shipped personas' accent colours.

A storm-blue tile with a ring of the eight personas' colours around a lightning bolt. Run
``python scripts/make_icons.py`` after changing the personas' colours; the PNGs are
committed, so installing the app needs nothing but the static files.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "static" / "icons"
SCALE = 4  # drawn large, then scaled down: smooth edges without an anti-aliasing library


def accents() -> list[str]:
    seed = tomllib.loads((ROOT / "personas" / "seed" / "personas.toml").read_text())
    return [persona["accent_color"] for persona in seed["persona"]]


def icon(size: int, *, maskable: bool) -> Image.Image:
    big = size * SCALE
    image = Image.new("RGB", (big, big), "#07101d")
    draw = ImageDraw.Draw(image)
    centre = big / 2
    for step in range(48, 0, -1):  # a soft glow from the top, as on the page
        radius = big * 0.9 * step / 48
        shade = int(0x11 + (0x07 - 0x11) * step / 48), int(0x23 + (0x10 - 0x23) * step / 48)
        colour = (shade[0], shade[1], int(0x3F + (0x1D - 0x3F) * step / 48))
        draw.ellipse((centre - radius, -radius * 0.6, centre + radius, radius * 1.4), fill=colour)
    # A maskable icon keeps its drawing inside the central 80 % circle.
    reach = 0.36 if maskable else 0.44
    outer, width = big * reach, big * reach * 0.16
    colours = accents()
    sweep = 360 / len(colours)
    box = (centre - outer, centre - outer, centre + outer, centre + outer)
    for index, colour in enumerate(colours):
        start = -90 + index * sweep + 3
        draw.arc(box, start, start + sweep - 6, fill=colour, width=int(width))
    bolt = [(0.10, -0.62), (-0.30, 0.08), (-0.02, 0.08), (-0.12, 0.62), (0.32, -0.12),
            (0.04, -0.12), (0.18, -0.62)]  # fmt: skip
    inner = outer - width * 1.4
    draw.polygon([(centre + x * inner, centre + y * inner) for x, y in bolt], fill="#e6edf7")
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, size, maskable in (
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("maskable-512.png", 512, True),
        ("apple-touch-icon.png", 180, True),
    ):
        icon(size, maskable=maskable).save(OUT / name, optimize=True)
        print(OUT / name)


if __name__ == "__main__":
    main()
