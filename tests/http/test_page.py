"""The web pages: served with a strict policy, no inline code, and the API's own vocabulary."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from mosaic.bootstrap import Services
from tests.http.conftest import AppClient, signed_in_user
from tests.http.web.pages import sign_in

# A path the script fetches: a string or template literal starting "/api/", up to a quote,
# a `?` or a `${` placeholder (which stands for one path segment).
_API_PATH = re.compile(r"[`\"'](/api/[^`\"'?]*)")
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_script = False
        self.styles = 0
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        if tag == "script":
            self.scripts.append(dict(attrs))
            self._in_script = True
        if tag == "style" or any(name == "style" for name, _ in attrs):
            self.styles += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script = True


def _route_pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$")


PAGES = ("/signin", "/signup", "/docs", "/dashboard", "/pricing", "/statement", "/keys", "/playground")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_served_with_a_policy_that_forbids_inline_and_foreign_code(
    services: Services, client: AppClient, path: str
) -> None:
    user = signed_in_user(services, client)
    sign_in(client, user.email)
    response = client.get(path)
    assert response.status_code in (200, 503), response.text  # /pricing: 503 without Stripe configured
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    tags = _Tags()
    tags.feed(response.text)
    assert tags.scripts == [{"src": "/static/app.js", "defer": None}]
    assert not tags.inline_script and tags.styles == 0 and tags.handlers == []


def test_the_script_and_style_sheet_are_served_and_nothing_else_is(client: AppClient) -> None:
    script = client.get("/static/app.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in script.text and "eval(" not in script.text
    style = client.get("/static/app.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    for name in ("index.html", "..%2Fpage.py", "missing.js"):
        refused = client.get(f"/static/{name}")
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "not_found"


def test_the_script_calls_no_api_route(client: AppClient) -> None:
    """The pages post forms to themselves; the script only decorates them (copy, show, follow)."""
    assert _API_PATH.findall(client.get("/static/app.js").text) == []


class _Selects(HTMLParser):
    """The option values of every <select>, by its name (an option without a value: its text)."""

    def __init__(self) -> None:
        super().__init__()
        self.options: dict[str, list[str]] = {}
        self._select: str | None = None
        self._pending: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "select":
            self._select = found.get("name") or ""
            self.options[self._select] = []
        elif tag == "option" and self._select is not None:
            self._pending = found.get("value")
            if self._pending is not None:
                self.options[self._select].append(self._pending)

    def handle_data(self, data: str) -> None:
        if self._select is not None and self._pending is None and data.strip():
            self.options[self._select].append(data.strip())
            self._pending = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "option":
            self._pending = None
        elif tag == "select":
            self._select = None


def test_the_playgrounds_choices_are_exactly_the_apis_vocabulary(services: Services, client: AppClient) -> None:
    from mosaic.imaging.options import (
        COLORS_MAX,
        COLORS_MIN,
        DEFAULTS,
        DENSITIES,
        DETAILS,
        MODES,
        ORIENTATIONS,
        OUTPUTS,
        PAGES,
    )
    from mosaic.imaging.palettes import set_ids

    user = signed_in_user(services, client)
    sign_in(client, user.email)
    page = client.get("/playground").text
    assert 'id="ai-form"' not in page  # no upstream configured here
    selects = _Selects()
    selects.feed(page)
    assert selects.options["mode"] == [mode for mode in MODES if mode != "ai"]  # ai: the prompt form
    assert selects.options["output"] == [o for o in OUTPUTS if o != "book"]  # a book: /api/bulk
    assert selects.options["page"] == list(PAGES)
    assert selects.options["orientation"] == list(ORIENTATIONS)
    assert selects.options["detail"] == list(DETAILS)
    assert selects.options["density"] == list(DENSITIES)
    assert selects.options["palette"] == ["", *set_ids()]  # "": colors made for the photo
    colors = re.search(r'name="colors" type="number" min="(\d+)" max="(\d+)" value="(\d+)"', page)
    assert colors is not None and tuple(map(int, colors.groups())) == (COLORS_MIN, COLORS_MAX, DEFAULTS.colors)
