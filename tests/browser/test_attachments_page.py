"""Attaching files on the page: pick, preview, remove, send, and see them in the chat."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from .test_chat_page import last_reply, start_chat

pytestmark = pytest.mark.slow


def png_bytes(colour: tuple[int, int, int] = (220, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 80), colour).save(out, "PNG")
    return out.getvalue()


def test_attach_a_picture_and_send_it(page: Page, live_url: str) -> None:
    start_chat(page, live_url)
    page.set_input_files(
        "#attach-input",
        files=[
            {"name": "red.png", "mimeType": "image/png", "buffer": png_bytes()},
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"Bring spheres."},
        ],
    )
    previews = page.locator("#composer-attachments .attachment-preview")
    expect(previews).to_have_count(2)
    expect(previews.locator("img")).to_have_count(1)  # the picture's thumbnail
    expect(page.locator("#composer-attachments input[name=attachments]")).to_have_count(2)
    # Removing one before sending takes it off the list (and off the server).
    page.get_by_role("button", name="Remove notes.txt").click()
    expect(previews).to_have_count(1)

    page.locator("#composer-input").fill("What is this?")
    page.locator("#composer-input").press("Enter")
    user = page.locator("#messages .message.user").last
    picture = user.locator(".attachments img")
    expect(picture).to_have_count(1)
    expect(picture).to_have_attribute("alt", "red.jpg")
    page.wait_for_function(
        "() => { const i = document.querySelector('#messages .message.user:last-child "
        ".attachments img, #messages .message.user .attachments img'); "
        "return i && i.complete && i.naturalWidth > 0; }"
    )
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    expect(last_reply(page)).to_contain_text("I see 1 picture(s) and: What is this?")
    expect(previews).to_have_count(0)  # the composer is empty again

    page.reload()  # and the picture is part of the saved chat
    expect(page.locator("#messages .message.user .attachments img")).to_have_count(1)
    assert page.problems == []  # type: ignore[attr-defined]


def test_a_file_that_is_not_taken_says_why_and_leaves_nothing(page: Page, live_url: str) -> None:
    start_chat(page, live_url)
    page.set_input_files(
        "#attach-input",
        files=[{"name": "setup.exe", "mimeType": "application/octet-stream", "buffer": b"MZ\x90"}],
    )
    expect(page.locator("#toasts .toast")).to_contain_text("Attach pictures")
    expect(page.locator("#composer-attachments .attachment-preview")).to_have_count(0)


def test_listen_reads_a_reply_aloud_and_esc_stops_it(page: Page, live_url: str) -> None:
    start_chat(page, live_url, "Wit")
    listen = page.locator("#messages .message.assistant").first.get_by_role(
        "button", name="Read this reply aloud"
    )
    with page.expect_response(lambda r: r.url.endswith("/speech/")) as answered:
        listen.click()
    response = answered.value
    assert response.status == 200
    assert response.headers["content-type"] == "audio/wav"
    expect(listen).to_have_attribute("aria-pressed", "true")
    page.wait_for_function(  # the voice is really playing
        "() => { const a = document.getElementById('speech-player'); "
        "return !a.paused && a.currentTime > 0; }"
    )
    page.keyboard.press("Escape")
    expect(listen).to_have_attribute("aria-pressed", "false")
    assert page.problems == []  # type: ignore[attr-defined]


def test_the_microphone_puts_what_was_said_in_the_composer(page: Page, live_url: str) -> None:
    start_chat(page, live_url)
    mic = page.get_by_role("button", name="Speak your message")
    mic.click()
    expect(mic).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(600)  # some of Chromium's test tone
    with page.expect_response(lambda r: r.url.endswith("/api/transcriptions/")) as answered:
        mic.click()
    assert answered.value.status == 200
    expect(mic).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#composer-input")).to_have_value("Life before death.")

    # Send when I stop talking: the words go out as a message.
    page.locator("#voice-settings summary").click()
    page.get_by_label("Send when I stop talking").check()
    page.locator("#composer-input").fill("")
    mic.click()
    page.wait_for_timeout(600)
    mic.click()
    user = page.locator("#messages .message.user").last
    expect(user).to_contain_text("Life before death.")
    assert page.problems == []  # type: ignore[attr-defined]


def test_replies_read_themselves_aloud_when_asked(page: Page, live_url: str) -> None:
    start_chat(page, live_url)
    page.locator("#voice-settings summary").click()
    with page.expect_response(lambda r: r.url.endswith("/settings/")):
        page.get_by_label("Read new replies aloud").check()
    page.locator("#voice-settings summary").click()
    page.locator("#composer-input").fill("Hello")
    page.locator("#composer-input").press("Enter")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    listen = last_reply(page).get_by_role("button", name="Read this reply aloud")
    expect(listen).to_have_attribute("aria-pressed", "true")  # started by itself
    page.keyboard.press("Escape")
    expect(listen).to_have_attribute("aria-pressed", "false")

    # Read while writing: sentences are read as they arrive, before the reply is done.
    page.locator("#voice-settings summary").click()
    page.get_by_label("Read new replies aloud").uncheck()
    page.get_by_label("Read aloud while writing").check()
    page.locator("#voice-settings summary").click()
    with page.expect_request(lambda r: "/speech/?text=" in r.url) as asked:
        page.locator("#composer-input").fill("Tell me a highstorm story")
        page.locator("#composer-input").press("Enter")
    assert "highstorm" in asked.value.url
    assert last_reply(page).get_attribute("data-status") == "streaming"
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    page.wait_for_function(
        "() => { const a = document.getElementById('speech-player'); "
        "return !a.paused && a.currentTime > 0; }"
    )
    assert page.problems == []  # type: ignore[attr-defined]


def test_pasted_and_dropped_pictures_are_attached(page: Page, live_url: str) -> None:
    start_chat(page, live_url)
    red = list(png_bytes())
    blue = list(png_bytes((30, 30, 220)))
    page.evaluate(
        """([red, blue]) => {
            const file = (bytes, name) =>
                new File([new Uint8Array(bytes)], name, { type: "image/png" });
            const how = { bubbles: true, cancelable: true };
            const pasted = new DataTransfer();
            pasted.items.add(file(red, "pasted.png"));
            document.getElementById("composer-input").dispatchEvent(
                new ClipboardEvent("paste", { clipboardData: pasted, ...how })
            );
            const dropped = new DataTransfer();
            dropped.items.add(file(blue, "dropped.png"));
            const target = document.querySelector(".chat-main");
            target.dispatchEvent(new DragEvent("dragover", { dataTransfer: dropped, ...how }));
            target.dispatchEvent(new DragEvent("drop", { dataTransfer: dropped, ...how }));
        }""",
        [red, blue],
    )
    previews = page.locator("#composer-attachments .attachment-preview")
    expect(previews).to_have_count(2)
    expect(previews.locator("img")).to_have_count(2)
    assert page.problems == []  # type: ignore[attr-defined]


def test_hold_to_talk(page: Page, live_url: str) -> None:
    start_chat(page, live_url)
    page.locator("#voice-settings summary").click()
    page.get_by_label("Hold the microphone to talk").check()
    page.locator("#voice-settings summary").click()
    mic = page.get_by_role("button", name="Speak your message")
    mic.hover()
    page.mouse.down()
    expect(mic).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(600)  # some of Chromium's test tone
    with page.expect_response(lambda r: r.url.endswith("/api/transcriptions/")):
        page.mouse.up()
    expect(page.locator("#composer-input")).to_have_value("Life before death.")
