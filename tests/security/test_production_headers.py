"""Production settings, as an operator runs them: HTTPS only, strict headers and cookies."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.servers import stormchat_on_sqlite

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def production_env(tmp: Path) -> dict[str, str]:
    return {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,chat.example.com",
        "SECURE_PROXY_SSL_HEADER": "1",
        "STATIC_ROOT": str(tmp / "static"),
    }


def test_check_deploy_is_clean_with_the_documented_variables(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", **production_env(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


@pytest.fixture(scope="module")
def production_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("prod")
    with stormchat_on_sqlite(
        tmp / "db.sqlite3", "http://127.0.0.1:9/v1", **production_env(tmp)
    ) as host:
        yield host


def test_plain_http_is_redirected_to_https(production_site: str) -> None:
    response = httpx.get(f"http://{production_site}/")
    assert response.status_code == 301
    assert response.headers["location"].startswith("https://")


def test_https_pages_carry_hsts_csp_and_strict_secure_cookies(production_site: str) -> None:
    response = httpx.get(f"http://{production_site}/", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    headers = response.headers
    assert headers["strict-transport-security"] == ("max-age=31536000; includeSubDomains; preload")
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    cookies = [v.lower() for k, v in headers.multi_items() if k == "set-cookie"]
    # Looking at the gallery makes no session; the CSRF cookie is host-only (__Host-).
    assert {c.split("=", 1)[0] for c in cookies} == {"__host-csrftoken"}
    token = response.cookies["__Host-csrftoken"]
    created = httpx.post(
        f"http://{production_site}/chats/new/",
        data={"persona": "kaladin", "csrfmiddlewaretoken": token},
        headers={
            "X-Forwarded-Proto": "https",
            "Origin": f"https://{production_site}",
            "Cookie": f"__Host-csrftoken={token}",
        },
    )
    assert created.status_code == 302, created.text
    cookies += [v.lower() for k, v in created.headers.multi_items() if k == "set-cookie"]
    assert "__host-sessionid" in {c.split("=", 1)[0] for c in cookies}
    for cookie in cookies:
        assert "secure" in cookie
        assert "samesite=strict" in cookie
        assert "path=/" in cookie
        assert "domain=" not in cookie
    assert all("httponly" in c for c in cookies if c.startswith("__host-sessionid"))
