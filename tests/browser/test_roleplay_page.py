"""A person steering the story in a browser: continue, write for me, delete, fork, the
author's note and who they play, in two tabs and at phone width."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from .conftest import ARTIFACTS
from .test_chat_page import FULL_NORMAL, last_reply, send, start_chat

pytestmark = pytest.mark.slow


def test_continue_write_for_me_and_delete(page: Page, live_url: str) -> None:
    start_chat(page, live_url, "Navani")
    send(page, "Hello")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    reply_id = last_reply(page).get_attribute("id")

    last_reply(page).get_by_role("button", name="Continue").click()
    expect(last_reply(page)).to_have_id(reply_id or "")
    # The same reply, written on.
    expect(last_reply(page).locator(".text")).to_have_text(re.compile("Strength.*Strength", re.S))
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    expect(page.locator("#messages .message.assistant")).to_have_count(2)

    page.get_by_role("button", name="Write for me").click()
    drafted = FULL_NORMAL.replace("Strength", "**Strength**")  # the model's words, as written
    expect(page.locator("#composer-input")).to_have_value(drafted)
    expect(page.locator("#messages .message.user")).to_have_count(1)  # nothing was sent

    page.on("dialog", lambda dialog: dialog.accept())
    user = page.locator("#messages .message.user").last
    user.get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator("#messages .message.user")).to_have_count(0)
    page.reload()
    expect(page.locator("#messages .message.user")).to_have_count(0)
    expect(page.locator("#messages .message.assistant")).to_have_count(2)


def test_fork_from_here_opens_the_new_chat(page: Page, live_url: str) -> None:
    start_chat(page, live_url, "Adolin")
    send(page, "Hello")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    expect(page.locator("#chat-title")).to_have_text("Bridge Four Memories")
    original = page.url
    user = page.locator("#messages .message.user").last
    user.get_by_role("button", name="Fork from here").click()
    page.wait_for_url(lambda url: url != original)
    expect(page.locator("#chat-title")).to_have_text("Bridge Four Memories (fork)")
    expect(page.locator("#messages .message")).to_have_count(2)  # greeting and "Hello"
    chat_id = page.url.rstrip("/").rsplit("/", 1)[1]
    expect(page.locator(f"#chat-item-{chat_id}")).to_contain_text("(fork)")


def test_authors_note_and_who_you_play_reach_both_tabs_and_the_prompt(
    context: BrowserContext, live_url: str
) -> None:
    first = context.new_page()
    first.goto(live_url + "/you/personas/")
    first.get_by_label("Name").fill("Lopen")
    first.get_by_label("Description").fill("A one-armed Herdazian with opinions.")
    first.get_by_role("button", name="Create").click()
    expect(first.locator(".user-persona-list")).to_contain_text("Lopen")

    start_chat(first, live_url, "Kaladin")
    second = context.new_page()
    second.goto(first.url)
    expect(second.locator("#connection-badge")).to_have_text("connected")

    first.get_by_text("Author's note & you").click()
    first.locator("#user-persona").select_option(label="Lopen")
    first.locator("#authors-note").fill("[The storm is near.]")
    first.locator("#chat-settings").get_by_role("button", name="Save").click()

    expect(second.locator("#authors-note")).to_have_value("[The storm is near.]")
    expect(second.locator("#user-persona")).to_have_value(
        first.locator("#user-persona").input_value()
    )
    send(second, "What do you know of me?")
    expect(last_reply(first)).to_contain_text("note seen, Lopen seen")
    second.reload()
    expect(second.locator("#authors-note")).to_have_value("[The storm is near.]")


def test_the_controls_fit_a_phone(context: BrowserContext, live_url: str) -> None:
    phone = context.browser.new_context(  # type: ignore[union-attr]
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = phone.new_page()
    start_chat(page, live_url, "Jasnah")
    page.locator("#composer-input").fill("Hello")  # on a phone, Enter is a new line
    page.get_by_role("button", name="Send").tap()
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    last_reply(page).get_by_role("button", name="Regenerate").click()
    expect(last_reply(page).locator(".swipe-count")).to_have_text("2/2")
    page.get_by_role("button", name="Chat options").click()  # a phone keeps them folded
    page.get_by_text("Author's note & you").click()
    expect(page.locator("#authors-note")).to_be_visible()
    box = page.locator("#chat-settings form").bounding_box()
    assert box is not None
    assert 0 <= box["x"] <= box["x"] + box["width"] <= 390  # the whole editor is on screen
    for control in ("Previous alternative", "Continue", "Fork from here", "Delete"):
        box = last_reply(page).get_by_role("button", name=control).bounding_box()
        assert box is not None, control
        assert 0 <= box["x"] <= box["x"] + box["width"] <= 390, control
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "roleplay-390.png"), full_page=True)
    phone.close()
