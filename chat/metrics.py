"""``/metrics``: what an operator watches, in Prometheus' text format (prometheus-client).

Per process: replies being written and waiting for the embedded model, tokens delivered,
time to first token, backend errors by code, open WebSockets, and sweeps with the replies
they interrupted. Prometheus scrapes each daphne process on its own port.

The page is not public: with ``METRICS_TOKEN`` set it needs ``Authorization: Bearer
<token>``; without it, only requests from the machine itself (loopback) are answered.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

RUNS_ACTIVE = Gauge("stormchat_runs_active", "Replies this process is writing now.")
RUNS_QUEUED = Gauge(
    "stormchat_runs_queued", "Replies waiting in line for the embedded model in this process."
)
TOKENS = Counter("stormchat_tokens_delivered", "Tokens of replies written (completion tokens).")
TTFT = Histogram(
    "stormchat_ttft_seconds",
    "Time from asking the backend to its first token.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64),
)
BACKEND_ERRORS = Counter(
    "stormchat_backend_errors", "Replies that failed, by error code.", ["code"]
)
SOCKETS = Gauge("stormchat_websocket_connections", "Open WebSocket connections.")
SWEEPS = Counter("stormchat_sweeps", "Sweeps for replies whose process died.")
SWEPT = Counter(
    "stormchat_sweep_interrupted_replies", "Replies the sweeps found orphaned and interrupted."
)


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """The process's metrics, for Prometheus; 403 for anyone not allowed to read them."""
    if not _allowed(request):
        return HttpResponse("Metrics are for operators.", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
