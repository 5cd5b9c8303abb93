"""A person starts a group scene in the browser, asks who speaks, and mutes a member."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from .conftest import ARTIFACTS

pytestmark = pytest.mark.slow


def test_start_a_scene_ask_a_member_and_mute_one(page: Page, live_url: str) -> None:
    page.goto(live_url + "/")
    for name in ("Kaladin", "Shallan"):
        page.locator(".persona-card", has_text=name).get_by_label("In a scene").check()
    page.get_by_role("button", name="Start a scene").click()
    expect(page.locator("#connection-badge")).to_have_text("connected")
    expect(page.locator("#chat-heading")).to_have_text("Kaladin, Shallan")
    expect(page.locator(".chat-item.current .avatar-stack .avatar")).to_have_count(2)

    page.locator("#scene-panel summary").click()
    page.get_by_role("button", name="Shallan speaks").click()
    reply = page.locator("#messages .message.assistant").last
    expect(reply).to_have_attribute("data-persona", "shallan")
    expect(reply.locator(".speaker")).to_have_text("Shallan")
    expect(reply).to_have_attribute("data-status", "complete")
    page.screenshot(path=ARTIFACTS / "scene.png")

    page.locator("#scene-panel").get_by_label("muted").nth(1).check()  # Shallan
    expect(page.get_by_role("button", name="Shallan speaks")).to_have_count(0)
    page.locator("#composer-input").fill("Shallan, are you there?")
    page.locator("#composer-input").press("Enter")
    answer = page.locator("#messages .message.assistant").last
    expect(answer).to_have_attribute("data-persona", "kaladin")  # she is muted
    expect(answer).to_have_attribute("data-status", "complete")

    page.locator("#scene-panel").get_by_label("muted").nth(1).uncheck()
    expect(page.get_by_role("button", name="Shallan speaks")).to_have_count(1)
    replies = page.locator("#messages .message.assistant").count()
    auto = page.locator("#auto-toggle")
    auto.click()
    expect(auto).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#messages .message.assistant").nth(replies + 1)).to_be_visible()
    auto.click()  # off: stops the scene
    expect(auto).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#messages .message.assistant").last).not_to_have_attribute(
        "data-status", "streaming"
    )

    chat_id = page.url.rstrip("/").rsplit("/", 1)[1]
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    saved = httpx.get(f"{live_url}/api/chats/{chat_id}/", cookies=cookies).json()
    muted_turn = [m for m in saved["messages"] if m["content"] == "Shallan, are you there?"]
    assert muted_turn[0]["present"] == ["kaladin"]
    assert saved["members"][1]["muted"] is False
    assert page.problems == []  # type: ignore[attr-defined]
