"""What a client shows, rebuilt from a snapshot plus the events that follow it.

``JsonView`` applies the JSON protocol the way docs/protocol.md tells a client to.
``HtmlView`` applies the page's out-of-band fragments to the page's own document the way
htmx does (``hx-swap-oob``). Both reduce to ``shown()``, which the protocol tests compare
with a fresh snapshot taken after the action (Zulip's ``verify_action``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import lxml.html
from lxml.html import HtmlElement


@dataclass
class JsonView:
    """A JSON client's chat: its title and messages."""

    title: str
    messages: dict[int, dict[str, Any]]
    read_through: str = ""
    lorebooks: list[int] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    seen_seq: dict[int, int] = field(default_factory=dict)
    deleted: bool = False

    @classmethod
    def from_welcome(cls, welcome: dict[str, Any]) -> JsonView:
        assert welcome["type"] == "welcome"
        messages = {m["id"]: dict(m) for m in welcome["messages"]}
        chat = welcome["chat"]
        books = [book["id"] for book in chat["lorebooks"]]
        view = cls(chat["title"], messages, chat["read_through"], books, _settings(chat))
        view.seen_seq = {m["id"]: m.get("seq", 0) for m in welcome["messages"]}
        return view

    def apply(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "ack":
            for removed in event["removed"]:
                del self.messages[removed]
            if event["message"]:
                self.messages[event["message"]["id"]] = dict(event["message"])
            self.messages[event["reply"]["id"]] = dict(event["reply"])
            self.seen_seq[event["reply"]["id"]] = 0
        elif kind == "stream":
            message_id = event["message_id"]
            assert message_id in self.messages, "a stream for a reply this client never saw"
            if event["seq"] > self.seen_seq.get(message_id, 0):
                self.messages[message_id]["content"] += event["content"]
                self.seen_seq[message_id] = event["seq"]
        elif kind in ("complete", "swiped", "edited"):
            self.messages[event["message"]["id"]] = dict(event["message"])
        elif kind == "removed":
            for removed in event["ids"]:
                del self.messages[removed]
        elif kind == "settings":
            self.settings = _settings(event["chat"])
        elif kind == "cleared":
            self.messages = {m["id"]: dict(m) for m in event["messages"]}
        elif kind == "title":
            self.title = event["title"]
        elif kind == "reading":
            self.read_through = event["read_through"]
        elif kind == "lorebooks":
            self.lorebooks = [book["id"] for book in event["lorebooks"]]
        elif kind == "deleted":
            self.deleted = True

    def shown(self) -> dict[str, Any]:
        """What a person sees: the title and each message's role, status and text."""
        if self.deleted:
            return {"deleted": True}
        rows = sorted(self.messages.values(), key=lambda m: m["position"])
        return {
            "title": self.title,
            "read_through": self.read_through,
            "lorebooks": self.lorebooks,
            "settings": self.settings,
            "messages": [
                (m["id"], m["role"], m["status"], m["content"], m.get("swipe"), m.get("swipes"))
                for m in rows
            ],
        }


def _settings(chat: dict[str, Any]) -> dict[str, Any]:
    return {key: chat[key] for key in ("authors_note", "authors_note_depth", "user_persona")}


class HtmlView:
    """The browser page: the page load's document with each frame's OOB swaps applied."""

    def __init__(self, page_html: str) -> None:
        self.doc: HtmlElement = lxml.html.document_fromstring(page_html)

    def by_id(self, element_id: str) -> HtmlElement | None:
        found = self.doc.xpath(f'//*[@id="{element_id}"]')
        return found[0] if found else None

    def apply(self, frame: str) -> None:
        """Apply one WebSocket frame as the htmx ws extension does."""
        for element in lxml.html.fragments_fromstring(frame):
            if not isinstance(element, HtmlElement) or element.get("hx-swap-oob") is None:
                continue
            swap = element.attrib.pop("hx-swap-oob")
            style, _, selector = swap.partition(":")
            target = self.by_id(selector.removeprefix("#") if selector else element.get("id"))
            if target is None:
                # htmx drops it too ("oobErrorNoTarget"): a fragment for something the
                # page never has is a defect, except deleting what may be gone already.
                assert style == "delete", f"no #{selector or element.get('id')} on the page"
                continue
            if style in ("true", "outerHTML"):
                target.getparent().replace(target, element)
            elif style == "delete":
                target.getparent().remove(target)
            elif style == "innerHTML":
                for child in list(target):  # clear() would drop the attributes too
                    target.remove(child)
                target.text = element.text
                target.extend(list(element))
            elif style == "beforeend":
                if element.text:  # text before the first child joins the target's text
                    last = target[-1] if len(target) else None
                    if last is None:
                        target.text = (target.text or "") + element.text
                    else:
                        last.tail = (last.tail or "") + element.text
                target.extend(list(element))
            elif style == "afterbegin":
                for child in reversed(list(element)):
                    target.insert(0, child)

    def shown(self) -> dict[str, Any]:
        """The title and each message's id, status and text, as on the screen."""
        messages = self.by_id("messages")
        if messages is None:
            deleted = self.doc.xpath('//*[contains(@class, "chat-deleted")]')
            return {"deleted": bool(deleted)}
        rows = []
        for article in messages.xpath('.//article[starts-with(@id, "message-")]'):
            text = article.xpath('.//div[contains(@class, "text")]')[0].text_content()
            swipes = article.xpath('.//div[@class="swipes"]/span[@class="swipe-count"]')
            count = swipes[0].text_content() if swipes else ""
            rows.append((article.get("id"), article.get("data-status"), _words(text), count))
        title = self.by_id("chat-title")
        chosen = self.doc.xpath('//select[@id="read-through"]/option[@selected]/@value')
        books = self.doc.xpath('//details[@id="chat-books"]//input[@checked]/@value')
        note = self.by_id("authors-note")
        depth = self.by_id("authors-note-depth")
        played = self.by_id("user-persona-choice")
        return {
            "title": _words(title.text_content() if title is not None else ""),
            "read_through": chosen[0] if chosen else "",
            "lorebooks": [int(book) for book in books],
            "settings": {
                "authors_note": note.text_content() if note is not None else None,
                "authors_note_depth": depth.get("value") if depth is not None else None,
                "user_persona": played.get("data-id") if played is not None else None,
            },
            "rows": rows,
        }

    def chat_list(self) -> list[tuple[str, str]]:
        """The history list, top to bottom: each chat's item id and title."""
        items = self.doc.xpath('//ul[@id="chat-list"]/li[starts-with(@id, "chat-item-")]')
        titles = [li.xpath('.//span[@class="chat-item-title"]')[0] for li in items]
        return [
            (li.get("id"), _words(t.text_content())) for li, t in zip(items, titles, strict=True)
        ]


def _words(text: str) -> str:
    return " ".join(re.sub(r"\s+", " ", text).split())
