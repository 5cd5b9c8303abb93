"""Each persona's ``character_book`` (a card's lorebook, kept as JSON until now) becomes its
own Lorebook. The original objects are kept in ``extra["ccv3"]``, so the card exports as
it came. (Self-contained: it uses only the historical models.)"""

from django.db import migrations

ST_POSITIONS = {0: "before_char", 1: "after_char", 2: "authors_note", 3: "authors_note", 4: "at_depth"}


def _texts(value):
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, (str, int, float)) and str(v).strip()]
    return []


def _number(value, default):
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def forwards(apps, schema_editor):
    Persona = apps.get_model("personas", "Persona")
    Lorebook = apps.get_model("personas", "Lorebook")
    LoreEntry = apps.get_model("personas", "LoreEntry")
    for persona in Persona.objects.exclude(character_book=None):
        data = persona.character_book
        if not isinstance(data, dict):
            continue
        extensions = data.get("extensions")
        book = Lorebook.objects.create(
            name=str(data.get("name") or f"{persona.name}'s lorebook")[:200],
            description=str(data.get("description") or ""),
            scan_depth=max(0, min(_number(data.get("scan_depth"), 4), 1000)),
            token_budget=max(0, min(_number(data.get("token_budget"), 1024), 1_000_000)),
            recursive_scanning=data.get("recursive_scanning") is True,
            extensions=extensions if isinstance(extensions, dict) else {},
            extra={"ccv3": {k: v for k, v in data.items() if k != "entries"}},
        )
        for raw in data.get("entries") or []:
            if not isinstance(raw, dict):
                continue
            ext = raw.get("extensions") if isinstance(raw.get("extensions"), dict) else {}
            position = "after_char" if raw.get("position") == "after_char" else "before_char"
            position = ST_POSITIONS.get(ext.get("position"), position)
            LoreEntry.objects.create(
                book=book,
                name=str(raw.get("name") or "")[:200],
                comment=str(raw.get("comment") or ""),
                keys=_texts(raw.get("keys")),
                secondary_keys=_texts(raw.get("secondary_keys")),
                selective=raw.get("selective") is True,
                use_regex=raw.get("use_regex") is True,
                case_sensitive=raw.get("case_sensitive") is True,
                content=str(raw.get("content") or ""),
                constant=raw.get("constant") is True,
                enabled=raw.get("enabled") is not False,
                insertion_order=_number(raw.get("insertion_order"), 100),
                priority=_number(raw.get("priority"), 0),
                position=position,
                depth=max(0, min(_number(ext.get("depth"), 4), 10_000)),
                external_id=str(raw.get("id") if raw.get("id") is not None else "")[:64],
                extensions=ext,
                extra={"ccv3": raw},
            )
        persona.own_lorebook = book
        persona.save(update_fields=["own_lorebook"])


class Migration(migrations.Migration):
    dependencies = [("personas", "0003_lorebooks")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
