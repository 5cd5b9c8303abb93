"""Files for download from the admin: one file as itself, several as a zip."""

from __future__ import annotations

import io
import zipfile

from django.http import HttpResponse


def files_response(
    files: list[tuple[str, bytes]], *, content_type: str, zip_name: str
) -> HttpResponse:
    """An attachment: the one file, or a zip named ``zip_name`` of them all."""
    if len(files) == 1:
        name, data = files[0]
        response = HttpResponse(data, content_type=content_type)
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file_name, data in files:
                archive.writestr(file_name, data)
        name = zip_name
        response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
