"""Browser tests: real Chromium (Debian's) driving a live daphne with a fake upstream LLM."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.fakes.llm_server import Reply, Request, openai_sse, paced, serve_in_thread
from tests.integration.servers import stormchat_on_sqlite

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

XSS_REPLY = [
    "Here is **bold** and a list:\n\n- one\n- two\n\n",
    "```python\nprint('storm')\n```\n\n",
    "<script>window.__xss = 1</script>",
    '<img src=x onerror="window.__xss = 2">',
    "[click me](javascript:window.__xss=3) ",
    '<a href="javascript:window.__xss=4">link</a> ',
    '<svg onload="window.__xss=5"></svg>',
    '<div style="position:fixed;inset:0">cover</div>',
]
NORMAL_REPLY = ["Life ", "before ", "death. ", "**Strength** ", "before ", "weakness."]
SLOW_REPLY = [f"word{i} " for i in range(60)]
STORY = [
    "The highstorm came at dusk. ",
    "Bridge Four huddled in the barrack. ",
    "Rock sang an old Horneater song. ",
    "Syl danced along the rafters. ",
    "Teft pretended not to listen. ",
    "By dawn the storm had passed. ",
    "Everyone was still alive.",
]


def route(request: Request) -> Reply:
    """Pick a scripted reply by what the user said last (or transcribe a recording)."""
    if request.path.endswith("/audio/transcriptions"):
        heard = b"Life before death." if b'name="file"' in request.body else b""
        return Reply(content_type="application/json", body=[b'{"text": "' + heard + b'"}'])
    messages = request.json()["messages"]
    if "name conversations" in messages[0]["content"]:
        return Reply(body=openai_sse(["Bridge ", "Four ", "Memories"]))
    last = messages[-1]["content"]
    if isinstance(last, list):  # a turn with pictures: its text part, and what it shows
        texts = [part["text"] for part in last if part["type"] == "text"]
        pictures = sum(part["type"] == "image_url" for part in last)
        return Reply(body=openai_sse([f"I see {pictures} picture(s) and: {' '.join(texts)}"]))
    last = last.lower()
    if "what do you know of me" in last:  # what the prompt carried, for the settings test
        prompt = " ".join(m["content"] for m in messages)
        told = ["note seen" if "storm is near" in prompt else "no note",
                "Lopen seen" if "Lopen" in prompt else "no Lopen"]  # fmt: skip
        return Reply(body=openai_sse([", ".join(told)]))
    if "xss" in last:
        return Reply(body=paced(openai_sse(XSS_REPLY), 0.02))
    if "highstorm story" in last:
        return Reply(body=paced(openai_sse(STORY), 0.15))
    if "slow" in last:
        return Reply(body=paced(openai_sse(SLOW_REPLY), 0.08))
    return Reply(body=paced(openai_sse(NORMAL_REPLY), 0.03))


@pytest.fixture(scope="session")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A daphne serving Stormchat on a fresh SQLite database."""
    database = tmp_path_factory.mktemp("browser") / "db.sqlite3"
    with (
        serve_in_thread(route) as upstream,
        stormchat_on_sqlite(
            database,
            f"{upstream.url}/v1",
            # Every test is a new visitor from 127.0.0.1; the per-address limits on new
            # sessions and chats are tested elsewhere.
            RATE_LIMIT_ANON_SESSIONS="10000",
            RATE_LIMIT_ANON_CHATS="10000",
            LLM_VISION="1",
            STT_BACKEND="openai",
            STT_BASE_URL=f"{upstream.url}/v1",
            MEDIA_ROOT=str(tmp_path_factory.mktemp("media")),
        ) as host,
    ):
        yield f"http://{host}"


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless. Per test: Playwright's sync API keeps an event loop
    running while it is open, which would break the async tests that follow."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make test`, which installs it.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                # A microphone that plays a tone, granted without asking.
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile: a new anonymous visitor."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A tab that fails the test on any JavaScript error or CSP violation."""
    return watched(context.new_page())


def watched(page: Page) -> Page:
    """The tab, collecting JavaScript errors, CSP violations and htmx's own errors (a swap
    with no target, say) in ``page.problems``."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error"
            and ("Content Security Policy" in message.text or message.text.startswith("htmx:"))
            else None
        ),
    )
    page.problems = problems  # type: ignore[attr-defined]
    return page
