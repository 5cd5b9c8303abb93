"""Character cards built the way other tools build them, for the card tests."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from typing import Any

from PIL import Image

FULL_CARD: dict[str, Any] = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {
        "name": "Szeth-son-son-Vallano",
        "description": "{{char}} is the Assassin in White, Truthless of Shinovar. ✦",
        "personality": "Quiet, tormented, obedient to the Oathstone.",
        "scenario": "A storm-dark night in Kholinar; {{user}} has found {{char}}.",
        "first_mes": "*{{char}} lowers his Shardblade.* You should not be here, {{user}}.",
        "mes_example": "<START>\n{{user}}: Who are you?\n{{char}}: I am Truthless.",
        "creator_notes": "Made for testing. Handle with care.",
        "system_prompt": "You are {{char}}. {{original}}",
        "post_history_instructions": "Answer as {{char}}, in two short paragraphs.",
        "alternate_greetings": ["*{{char}} bows.* Master.", "The stones are unhallowed."],
        "tags": ["stormlight", "assassin", "Shin"],
        "creator": "Bridge Four",
        "character_version": "1.2",
        "extensions": {"talkativeness": "0.3", "world": "Roshar", "depth_prompt": {"d": 4}},
        "character_book": {
            "name": "Roshar",
            "entries": [{"keys": ["Honorblade"], "content": "One of ten.", "enabled": True}],
            "extensions": {},
        },
        "x_unknown_data_field": {"kept": [1, 2, 3]},
    },
    "x_unknown_top_field": "survives",
}


def portrait() -> bytes:
    """A small PNG portrait with no card in it."""
    out = io.BytesIO()
    Image.new("RGB", (40, 60), "#a0a0ff").save(out, "PNG")
    return out.getvalue()


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its length and CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def sillytavern_png(card: Any, *, keyword: bytes = b"chara", payload: bytes | None = None) -> bytes:
    """A PNG card as SillyTavern writes it: a tEXt chunk ``chara`` just before IEND
    (after the image data) holding base64 of the UTF-8 JSON."""
    image = portrait()
    iend = image.rindex(b"IEND") - 4
    if payload is None:
        payload = base64.b64encode(json.dumps(card, ensure_ascii=False).encode("utf-8"))
    text = chunk(b"tEXt", keyword + b"\x00" + payload)
    return image[:iend] + text + image[iend:]
