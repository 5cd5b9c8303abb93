"""The installable app's files: served with the headers browsers require, and holding
nothing private."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

pytestmark = pytest.mark.django_db


def test_the_manifest_describes_an_installable_app(client: Client) -> None:
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    assert "Content-Security-Policy" in response
    data = json.loads(response.content)
    assert (data["name"], data["start_url"], data["scope"], data["display"]) == (
        "Stormchat",
        "/",
        "/",
        "standalone",
    )
    sizes = {(icon["sizes"], icon.get("purpose", "any")) for icon in data["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in data["icons"]:  # every icon is a static file that exists
        path = icon["src"].removeprefix("/static/")
        assert finders.find(path), icon["src"]


def test_every_page_links_the_manifest_and_the_worker(client: Client) -> None:
    html = client.get("/").content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert 'data-service-worker="/sw.js"' in html


def test_the_service_worker_is_served_for_the_whole_site_and_never_cached(
    client: Client,
) -> None:
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response["Cache-Control"]
    found = re.search(r"const CONFIG = (\{.*\});", response.content.decode())
    assert found is not None
    config = json.loads(found[1])
    # It keeps the static files and the offline page, and nothing with private text.
    assert "/offline/" in config["precached"]
    assert all(
        url.startswith("/static/") or url == config["offline"] for url in config["precached"]
    )
    assert config["cache"].startswith("stormchat-")


def test_the_worker_cache_is_renamed_when_the_static_files_change(
    client: Client, settings: SettingsWrapper
) -> None:
    name = re.compile(rb'"cache": "(stormchat-\w+)"')
    first = name.search(client.get("/sw.js").content)
    settings.STATIC_URL = "/assets/"
    second = name.search(client.get("/sw.js").content)
    assert first is not None
    assert second is not None
    assert first[1] != second[1]


def test_the_offline_page_is_the_same_for_everyone(client: Client, alice: User) -> None:
    anonymous = client.get("/offline/")
    client.force_login(alice)
    signed_in = client.get("/offline/")
    assert anonymous.status_code == signed_in.status_code == 200
    assert alice.username not in signed_in.content.decode()
    assert "No connection" in anonymous.content.decode()
    assert "public" in anonymous["Cache-Control"]


def test_the_app_files_refuse_writes(client: Client) -> None:
    for url in ("/manifest.webmanifest", "/sw.js", "/offline/"):
        assert client.post(url).status_code == 405
