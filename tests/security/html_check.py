"""An HTML inspector for the XSS tests: what in a page could run script."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements that can run script, load a document or change where the page's links go.
FORBIDDEN_TAGS = {
    "iframe", "frame", "frameset", "object", "embed", "applet", "base", "svg", "math",
    "style", "template", "portal", "noscript",
}  # fmt: skip
URL_ATTRIBUTES = {
    "href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
    "srcdoc", "ping", "manifest", "codebase", "cite", "lowsrc", "dynsrc",
}  # fmt: skip
ACTIVE_SCHEMES = ("javascript:", "vbscript:", "data:", "livescript:")
# Our own pages load scripts only from static files.
OWN_SCRIPT = re.compile(r"^/static/[\w./-]+\.js$")
# The links a page may carry: styles and icons, and the installable app's manifest, from
# our own files only.
OWN_LINKS = {
    "stylesheet": re.compile(r"^/static/[\w./-]+\.css$"),
    "icon": re.compile(r"^/static/[\w./-]+\.(svg|png)$"),
    "apple-touch-icon": re.compile(r"^/static/[\w./-]+\.png$"),
    "manifest": re.compile(r"^/manifest\.webmanifest$"),
}


def _scheme(value: str) -> str:
    # Browsers ignore control characters and whitespace inside a URL's scheme.
    return re.sub(r"[\x00-\x20]+", "", value).lower()


class ActiveContentFinder(HTMLParser):
    """Collects everything in a document that could execute or navigate to script."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        if tag == "script":
            if not OWN_SCRIPT.match(values.get("src", "")):
                self.problems.append(f"<script> not from our static files: {attrs}")
            self.in_script = True
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}> element")
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            self.problems.append("<meta http-equiv=refresh>")
        own = OWN_LINKS.get(values.get("rel", ""))
        if tag == "link" and (own is None or not own.match(values.get("href", ""))):
            self.problems.append(f"<link> {attrs}")
        for name, value in values.items():
            if name.startswith("on"):
                self.problems.append(f"event handler {name}={value!r} on <{tag}>")
            if name in URL_ATTRIBUTES and _scheme(value).startswith(ACTIVE_SCHEMES):
                self.problems.append(f"{name}={value!r} on <{tag}>")
            if name == "style" and re.search(r"javascript:|expression\(|url\(", value, re.I):
                self.problems.append(f"style={value!r} on <{tag}>")
            # Our pages use htmx, but never to call the admin or script: text from a model
            # or a persona that became htmx attributes would.
            if name.startswith("hx-") and re.search(r"javascript:|/admin/|js:", value, re.I):
                self.problems.append(f"{name}={value!r} on <{tag}>")
            if name.startswith("hx-on"):
                self.problems.append(f"htmx handler {name} on <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script and data.strip():
            self.problems.append(f"inline script: {data[:80]!r}")


def active_content(html: str) -> list[str]:
    """Every way this HTML could run script; empty when it is inert."""
    finder = ActiveContentFinder()
    finder.feed(html)
    finder.close()
    return finder.problems


PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](javascript&#58;alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    '![x](x" onerror="alert(1))',
    "<body onload=alert(1)>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    "<scr<script>ipt>alert(1)</script>",
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>",
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<base href="javascript:alert(1)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "[a](vbscript:msgbox(1))",
    "<style>@import 'javascript:alert(1)';</style>",
    '<!--<img src="--><img src=x onerror=alert(1)//">',
    '<a href=" javascript:alert(1)">x</a>',
    "```html\n<script>alert(1)</script>\n```",
    '[x](https://example.com "t\\" onmouseover=\\"alert(1)")',
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">x</text></a></svg>',
    "<<script>script>alert(1)<</script>/script>",
    "[x](  javascript:alert(1))",
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '{{ 7|add:7 }} {% now \'Y\' %} <div hx-get="/admin/" hx-trigger="load">x</div>',
    '<div hx-on:click="alert(1)">x</div>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<template><script>alert(1)</script></template>",
]
