"""One request to a speech or transcription server, its failures said plainly."""

from __future__ import annotations

from typing import Any

import httpx

from chat.backends.http import http_client
from chat.errors import ChatError


async def service_post(
    url: str,
    *,
    label: str,
    setting: str,
    unavailable: type[ChatError],
    failed: type[ChatError],
    api_key: str,
    seconds: float,
    **request: Any,
) -> httpx.Response:
    """POST to ``label``'s server; ``unavailable`` when it can't be reached or is slow,
    ``failed`` when it refuses the key or answers with an error; waits ``seconds``."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = await http_client().post(url, headers=headers, timeout=seconds, **request)
    except httpx.TimeoutException:
        raise unavailable(f"The {label} server did not answer in time.") from None
    except httpx.TransportError:
        raise unavailable(
            f"The {label} server cannot be reached. Is it running, and is {setting} right?"
        ) from None
    if response.status_code in (401, 403):
        raise failed(f"The {label} server refused the key.")
    if response.status_code >= 400:
        raise failed(f"The {label} server answered {response.status_code}.")
    return response
