"""Stormchat on a phone (390 by 844 pixels): the chat fills the screen, the list of chats is a
drawer, and the site installs as an app that works offline without storing private text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from .conftest import ARTIFACTS, watched
from .test_chat_page import last_reply, start_chat

pytestmark = pytest.mark.slow
WIDTH, HEIGHT = 390, 844


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(
        viewport={"width": WIDTH, "height": HEIGHT}, is_mobile=True, has_touch=True
    )
    yield context
    context.close()


@pytest.fixture
def phone_page(phone: BrowserContext) -> Page:
    """A phone tab that fails the test on a JavaScript error or a CSP violation."""
    return watched(phone.new_page())


def send_and_finish(page: Page, text: str) -> None:
    page.locator("#composer-input").fill(text)  # on a phone, Enter is a new line
    page.get_by_role("button", name="Send").tap()
    expect(last_reply(page)).to_have_attribute("data-status", "streaming")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")


def test_the_last_message_and_the_composer_fit_without_scrolling(
    phone_page: Page, live_url: str
) -> None:
    page = phone_page
    start_chat(page, live_url, "Shallan")
    for text in ("Hello", "Tell me about Jasnah", "And Pattern?"):
        send_and_finish(page, text)
    assert page.evaluate("document.documentElement.scrollHeight") <= HEIGHT
    assert page.evaluate("window.scrollY") == 0
    composer = page.locator(".composer-bar").bounding_box()
    last = last_reply(page).bounding_box()
    messages = page.locator("#messages").bounding_box()
    assert composer is not None
    assert last is not None
    assert messages is not None
    assert composer["y"] + composer["height"] <= HEIGHT  # the composer is on screen
    assert messages["y"] <= last["y"]
    assert last["y"] + last["height"] <= composer["y"] + 1
    assert messages["height"] >= 0.7 * HEIGHT  # the conversation gets most of the screen
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "phone-chat.png"))
    assert page.problems == []  # type: ignore[attr-defined]


def test_the_list_of_chats_is_a_drawer(phone_page: Page, live_url: str) -> None:
    page = phone_page
    start_chat(page, live_url, "Wit")
    drawer = page.locator("#chat-drawer")
    menu = page.get_by_role("button", name="Your chats")
    expect(drawer).to_be_hidden()
    menu.tap()
    expect(drawer).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "true")
    # Slid fully in once its transition ends, and no wider than the screen.
    slid_in = "() => document.getElementById('chat-drawer').getBoundingClientRect().x >= 0"
    page.wait_for_function(slid_in)
    box = drawer.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= WIDTH
    expect(drawer.get_by_role("link", name="Log in")).to_be_visible()  # the site's links
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.tap()
    expect(drawer).to_be_visible()
    page.mouse.click(WIDTH - 10, HEIGHT // 2)  # the backdrop beside the drawer
    expect(drawer).to_be_hidden()
    menu.tap()
    drawer.get_by_role("button", name="Close the list of chats").tap()
    expect(drawer).to_be_hidden()
    # A phone can take a picture for the message straight from its camera.
    expect(page.get_by_title("Take a picture")).to_be_visible()
    assert page.locator("#camera-input").get_attribute("capture") == "environment"
    # The chat's options fold behind one button.
    expect(page.locator("#read-through")).to_be_hidden()
    page.get_by_role("button", name="Chat options").tap()
    expect(page.locator("#read-through")).to_be_visible()
    assert page.problems == []  # type: ignore[attr-defined]


def test_a_wide_screen_keeps_the_list_beside_the_chat(page: Page, live_url: str) -> None:
    start_chat(page, live_url)
    expect(page.locator("#chat-drawer")).to_be_visible()
    expect(page.get_by_role("button", name="Your chats")).to_be_hidden()
    expect(page.locator("#read-through")).to_be_visible()


def test_the_app_installs_and_works_offline_without_keeping_chats(
    phone: BrowserContext, phone_page: Page, live_url: str
) -> None:
    page = phone_page
    start_chat(page, live_url, "Dalinar")
    send_and_finish(page, "Hello")
    chat_url = page.url
    manifest_url = page.locator('link[rel="manifest"]').get_attribute("href")
    assert manifest_url is not None
    manifest = page.request.get(live_url + manifest_url)
    assert manifest.headers["content-type"] == "application/manifest+json"
    assert "content-security-policy" in manifest.headers
    data = manifest.json()
    assert data["display"] == "standalone"
    for icon in data["icons"]:
        fetched = page.request.get(live_url + icon["src"])
        assert fetched.ok, icon
        assert fetched.headers["content-type"] == "image/png", icon
    state = page.evaluate(
        "navigator.serviceWorker.ready.then(r => (r.active || r.waiting || r.installing).state)"
    )
    assert state in ("activating", "activated")
    page.reload()  # now under the worker's control
    assert page.evaluate("!!navigator.serviceWorker.controller")
    stored = page.evaluate(
        """async () => {
            const urls = [];
            for (const name of await caches.keys()) {
                const cache = await caches.open(name);
                for (const request of await cache.keys()) urls.push(new URL(request.url).pathname);
            }
            return urls;
        }"""
    )
    assert "/offline/" in stored
    assert all(url.startswith("/static/") or url == "/offline/" for url in stored), stored

    phone.set_offline(True)
    try:
        page.goto(chat_url)
        expect(page.get_by_role("heading", name="No connection")).to_be_visible()
        expect(page.locator("body")).not_to_contain_text("Hello")  # no chat text kept
    finally:
        phone.set_offline(False)
    assert page.problems == []  # type: ignore[attr-defined]


def test_the_gallery_background_covers_the_whole_page(phone_page: Page, live_url: str) -> None:
    page = phone_page
    page.goto(live_url + "/")
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    glow = page.evaluate(
        """() => {
            const style = getComputedStyle(document.body, "::before");
            return [style.position, style.backgroundImage.startsWith("radial-gradient"),
                    parseFloat(style.height), window.innerHeight];
        }"""
    )
    position, gradient, height, viewport = glow
    assert position == "fixed"
    assert gradient
    assert height >= viewport  # and always covers the screen
    assert page.evaluate("getComputedStyle(document.documentElement).backgroundColor") == (
        "rgb(7, 16, 29)"  # past the glow, the page's own colour, never white
    )
