"""A person in a browser: gallery, chatting, streaming, history, safety."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from .conftest import ARTIFACTS

pytestmark = pytest.mark.slow
FULL_NORMAL = "Life before death. Strength before weakness."


def start_chat(page: Page, live_url: str, persona: str = "Kaladin") -> None:
    page.goto(live_url + "/")
    page.get_by_role("button", name=f"Start a chat with {persona}").click()
    expect(page.locator("#connection-badge")).to_have_text("connected")


def send(page: Page, text: str) -> None:
    """Type and press Enter, then wait until the reply to it has started."""
    replies = page.locator("#messages .message.assistant").count()
    page.locator("#composer-input").fill(text)
    page.locator("#composer-input").press("Enter")
    expect(page.locator("#messages .message.assistant")).to_have_count(replies + 1)


def last_reply(page: Page):
    return page.locator("#messages .message.assistant").last


def test_pick_a_persona_send_and_watch_the_reply_stream_and_save(page: Page, live_url: str) -> None:
    start_chat(page, live_url)
    expect(page.locator("#messages .message.assistant.greeting")).to_contain_text(
        "Kaladin looks up"
    )
    send(page, "Hello, Captain")
    expect(page.locator("#messages .message.user").last).to_contain_text("Hello, Captain")
    expect(page.locator("#composer-input")).to_have_value("")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    expect(last_reply(page).locator(".markdown strong")).to_have_text("Strength")
    expect(last_reply(page)).to_contain_text(FULL_NORMAL)
    chat_id = page.url.rstrip("/").rsplit("/", 1)[1]
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    saved = httpx.get(f"{live_url}/api/chats/{chat_id}/", cookies=cookies).json()
    assert saved["messages"][-1]["content"].replace("**", "") == FULL_NORMAL
    expect(page.locator("#chat-title")).to_have_text("Bridge Four Memories")
    expect(page.locator(f"#chat-item-{chat_id}")).to_contain_text("Bridge Four Memories")
    assert page.problems == []  # type: ignore[attr-defined]


def test_shift_enter_adds_a_line_and_drafts_survive_a_reload(page: Page, live_url: str) -> None:
    start_chat(page, live_url, "Shallan")
    box = page.locator("#composer-input")
    box.fill("first line")
    box.press("Shift+Enter")
    box.type("second line")
    expect(box).to_have_value("first line\nsecond line")
    page.reload()
    expect(page.locator("#composer-input")).to_have_value("first line\nsecond line")


def test_reload_mid_stream_and_the_reply_keeps_coming(page: Page, live_url: str) -> None:
    start_chat(page, live_url)
    send(page, "Tell me a slow story")
    expect(last_reply(page)).to_contain_text("word3")
    page.reload()
    expect(page.locator("#connection-badge")).to_have_text("connected")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=15_000)
    text = last_reply(page).locator(".text").inner_text()
    assert text.split() == [f"word{i}" for i in range(60)]


def test_stop_keeps_the_partial_reply(page: Page, live_url: str) -> None:
    start_chat(page, live_url)
    send(page, "A slow one please")
    expect(last_reply(page)).to_contain_text("word2")
    expect(page.locator("#stop-button")).to_be_visible()
    page.keyboard.press("Escape")
    expect(last_reply(page)).to_have_attribute("data-status", "cancelled")
    expect(last_reply(page)).to_contain_text("Stopped.")
    words = last_reply(page).locator(".text").inner_text().split()
    assert 2 < len(words) < 60
    expect(page.locator("#stop-button")).to_be_hidden()


def test_regenerate_and_edit(page: Page, live_url: str) -> None:
    start_chat(page, live_url, "Dalinar")
    send(page, "Hello")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    first_id = last_reply(page).get_attribute("id")
    last_reply(page).get_by_role("button", name="Regenerate").click()
    # A swipe: the same reply, now showing its second alternative.
    expect(last_reply(page)).to_have_id(first_id or "")
    expect(last_reply(page).locator(".swipe-count")).to_have_text("2/2")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    expect(last_reply(page)).to_contain_text(FULL_NORMAL)
    last_reply(page).get_by_role("button", name="Previous alternative").click()
    expect(last_reply(page).locator(".swipe-count")).to_have_text("1/2")
    last_reply(page).get_by_role("button", name="Next alternative").click()
    expect(last_reply(page).locator(".swipe-count")).to_have_text("2/2")

    user = page.locator("#messages .message.user").last
    user.get_by_role("button", name="Edit", exact=True).click()
    user.locator("textarea").fill("Show me something slow")
    user.get_by_role("button", name="Save & resend").click()
    expect(page.locator("#messages .message.user").last).to_contain_text("Show me something slow")
    expect(page.locator("#messages .message.user")).to_have_count(1)
    expect(last_reply(page)).to_contain_text("word5")


def test_two_tabs_show_the_same_reply_live(context: BrowserContext, live_url: str) -> None:
    first = context.new_page()
    start_chat(first, live_url)
    second = context.new_page()
    second.goto(first.url)
    expect(second.locator("#connection-badge")).to_have_text("connected")
    send(first, "Slow, for both of you")
    expect(second.locator("#messages .message.user").last).to_contain_text("Slow, for both of you")
    expect(last_reply(second)).to_contain_text("word2")
    expect(last_reply(second)).to_have_attribute("data-status", "complete", timeout=15_000)
    assert last_reply(first).inner_text() == last_reply(second).inner_text()


def test_markdown_and_xss_from_the_model_are_rendered_safely(page: Page, live_url: str) -> None:
    start_chat(page, live_url, "Wit")
    send(page, "xss please")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".markdown li")).to_have_count(2)
    expect(reply.locator(".markdown pre code")).to_contain_text("print('storm')")
    assert page.evaluate("window.__xss") is None
    active = reply.locator(".markdown").evaluate(
        """root => [...root.querySelectorAll("*")].flatMap(el => [...el.attributes]
             .filter(a => a.name.startsWith("on") || a.name === "style"
                          || /^\\s*javascript:/i.test(a.value))
             .map(a => el.tagName + " " + a.name))"""
    )
    assert active == []
    assert (
        reply.locator(".markdown img, .markdown svg, .markdown script, .markdown div").count() == 0
    )
    expect(reply.locator(".markdown")).to_contain_text("<script>window.__xss = 1</script>")
    assert page.problems == []  # type: ignore[attr-defined]


def test_history_list_new_rename_search_and_delete(page: Page, live_url: str) -> None:
    start_chat(page, live_url, "Navani")
    navani_url = page.url
    start_chat(page, live_url, "Jasnah")
    jasnah_id = page.url.rstrip("/").rsplit("/", 1)[1]
    navani_id = navani_url.rstrip("/").rsplit("/", 1)[1]
    items = page.locator("#chat-list .chat-item")
    expect(items.first).to_have_id(f"chat-item-{jasnah_id}")
    expect(page.locator(f"#chat-item-{navani_id}")).to_be_visible()

    navani = page.locator(f"#chat-item-{navani_id}")
    navani.get_by_role("button", name=re.compile("^Rename")).click()
    navani.locator("input[name=title]").fill("Fabrial questions")
    navani.get_by_role("button", name="Save").click()
    expect(page.locator(f"#chat-item-{navani_id}")).to_contain_text("Fabrial questions")

    page.locator("#chat-search").fill("fabrial")
    expect(page.locator("#chat-list .chat-item")).to_have_count(1)
    page.locator("#chat-search").fill("")
    expect(page.locator(f"#chat-item-{jasnah_id}")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#chat-item-{navani_id}").get_by_role(
        "button", name=re.compile("^Delete")
    ).click()
    expect(page.locator(f"#chat-item-{navani_id}")).to_have_count(0)
    assert page.request.get(navani_url).status == 404


def test_a_new_chat_in_another_tab_appears_in_the_list(
    context: BrowserContext, live_url: str
) -> None:
    first = context.new_page()
    start_chat(first, live_url, "Adolin")
    other = context.new_page()
    start_chat(other, live_url, "Szeth")
    szeth_id = other.url.rstrip("/").rsplit("/", 1)[1]
    expect(first.locator(f"#chat-item-{szeth_id}")).to_be_visible()


def test_screenshots_desktop_and_phone(context: BrowserContext, live_url: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = context.new_page()
    start_chat(page, live_url)
    send(page, "Hello")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    page.screenshot(path=str(ARTIFACTS / "chat-1280.png"))
    page.goto(live_url + "/")
    page.screenshot(path=str(ARTIFACTS / "gallery-1280.png"))
    phone = context.browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    mobile = phone.new_page()
    start_chat(mobile, live_url, "Shallan")
    mobile.screenshot(path=str(ARTIFACTS / "chat-390.png"))
    width = mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing overflows sideways on a phone
    phone.close()
    narrow = context.browser.new_context(viewport={"width": 360, "height": 740}, has_touch=True)
    small = narrow.new_page()
    start_chat(small, live_url, "Wit")
    assert small.evaluate("document.documentElement.scrollWidth") <= 360
    small.goto(live_url + "/")
    assert small.evaluate("document.documentElement.scrollWidth") <= 360
    narrow.close()


def test_a_dropped_connection_reconnects_and_the_reply_continues(page: Page, live_url: str) -> None:
    routes = []

    def proxy(route):
        route.connect_to_server()  # forward both ways, untouched
        routes.append(route)

    page.route_web_socket(re.compile(r".*/ws/chats/.*"), proxy)
    start_chat(page, live_url)
    send(page, "A slow one, then lose the network")
    expect(last_reply(page)).to_contain_text("word3")
    routes[-1].close(code=1012, reason="service restart")  # what a dropped link looks like
    expect(page.locator("#connection-badge")).to_have_text("reconnecting")
    expect(page.locator("#connection-badge")).to_have_text("connected", timeout=15_000)
    assert len(routes) == 2  # it reconnected by itself
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=15_000)
    text = last_reply(page).locator(".text").inner_text()
    assert text.split() == [f"word{i}" for i in range(60)]  # no gap, no duplicate


def test_the_debug_panel_logs_events_and_reply_timings(page: Page, live_url: str) -> None:
    start_chat(page, live_url)
    page.get_by_role("button", name="Debug").click()
    expect(page.locator("#debug-panel")).to_be_visible()
    send(page, "Hello")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    log = page.locator("#debug-log")
    for kind in ("open", "snapshot", "ack", "first token", "complete"):
        expect(log.locator(f'li[data-kind="{kind}"]').first).to_be_attached()
    row = page.locator("#debug-replies tr").first
    expect(row).to_contain_text("openai / fake-model")
    expect(row).to_contain_text(" ms")


def test_a_message_sent_before_the_socket_is_ready_goes_out_when_it_connects(
    page: Page, live_url: str
) -> None:
    state = {"allow": False, "refused": 0}

    def gate(route):
        if state["allow"]:
            route.connect_to_server()
        else:
            state["refused"] += 1
            route.close(code=1013, reason="try again later")

    page.goto(live_url + "/")
    page.get_by_role("button", name="Start a chat with Kaladin").click()
    chat_url = page.url
    page.route_web_socket(re.compile(r".*/ws/chats/.*"), gate)
    page.goto(chat_url)
    expect(page.locator("#connection-badge")).not_to_have_text("connected")
    page.locator("#composer-input").fill("Sent while offline")
    page.locator("#composer-input").press("Enter")
    expect(page.locator("#composer-input")).to_have_value("")  # handed to the queue
    assert state["refused"] >= 1
    state["allow"] = True
    expect(page.locator("#connection-badge")).to_have_text("connected", timeout=15_000)
    expect(page.locator("#messages .message.user").last).to_contain_text("Sent while offline")
    expect(last_reply(page)).to_contain_text(FULL_NORMAL)


def test_alternate_greetings_can_be_swiped_until_the_chat_begins(page: Page, live_url: str) -> None:
    start_chat(page, live_url)
    greeting = page.locator("#messages .message.greeting")
    expect(greeting).to_contain_text("Kaladin looks up")
    expect(greeting.locator(".swipe-count")).to_have_text("Greeting 1 of 3")
    greeting.get_by_role("button", name="Next greeting").click()
    expect(page.locator("#messages .message.greeting")).to_contain_text("oiling")
    page.locator("#messages .message.greeting").get_by_role(
        "button", name="Previous greeting"
    ).click()
    expect(page.locator("#messages .message.greeting")).to_contain_text("Kaladin looks up")
    page.locator("#messages .message.greeting").get_by_role(
        "button", name="Previous greeting"
    ).click()
    expect(page.locator("#messages .message.greeting")).to_contain_text("Rain hammers")
    page.reload()
    expect(page.locator("#messages .message.greeting .swipe-count")).to_have_text("Greeting 3 of 3")
    send(page, "Hello")
    expect(page.locator("#greeting-swipe")).to_have_count(0)
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    assert page.problems == []  # type: ignore[attr-defined]
