"""The web pages in a real browser (Debian's Chromium, driven by Playwright) against `mosaic serve`
with the fake Stripe: the whole journey of a new customer, every page checked by axe-core (no
serious or critical violation) and photographed at 1280 and 375 px (build/screenshots), with no
console error and no request leaving the server's origin."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import zipfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, Route, sync_playwright

from tests.conftest import FIXTURES
from tests.e2e.live import PASSWORD, ROOT, free_port, server_env, start_server
from tests.fakes.smtp_server import Mailbox
from tests.fakes.smtp_server import serving as serving_smtp
from tests.fakes.stripe_server import FakeStripe, billing_env
from tests.fakes.stripe_server import serving as serving_stripe

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [  # as root, with no network beyond loopback and nothing to update or sync
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "build" / "screenshots"
WIDTHS = ((1280, 900), (375, 812))
WAIT_MS = 60_000
EMAIL = "new.customer@example.com"
NEW_PASSWORD = "a brand new passphrase"
CHECKOUT_PAGES = "https://checkout.stripe.test/**"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "scripts/services installs Debian's chromium"
    assert AXE.exists(), "scripts/test runs npm ci, which installs axe-core"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Watch:
    """What the browser did: console errors, uncaught errors, and every request it made."""

    def __init__(self, page: Page, origin: str) -> None:
        self.origin = origin
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", lambda request: self.requests.append(request.url))

    def foreign(self) -> list[str]:
        def own(url: str) -> bool:
            parts = urlsplit(url)
            return parts.scheme == "data" or f"{parts.scheme}://{parts.netloc}" == self.origin
        return [url for url in self.requests if not own(url)]


def follow(page: Page, selector: str) -> None:
    """Click what leads to another page, and wait until that page has loaded."""
    with page.expect_navigation(timeout=WAIT_MS):
        page.click(selector)
    page.wait_for_load_state("load")


def check(page: Page, name: str) -> None:
    """At each width: axe-core on the page as it is, a full-page screenshot, no sideways scrolling."""
    page.wait_for_load_state("load")
    page.evaluate(f"() => {{ {AXE.read_text()}\n }}")  # the DevTools protocol: no script tag, the CSP holds
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        grave = [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in results["violations"] if v["impact"] in ("serious", "critical")
        ]
        assert grave == [], f"{name} at {width} px: {json.dumps(grave)}"
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways at {width} px"
    page.set_viewport_size({"width": WIDTHS[0][0], "height": WIDTHS[0][1]})


def _wait_for_text(page: Page, selector: str, text: str) -> None:
    """Reload until `selector` reads `text`: the views fold a webhook's events within a moment."""
    for _ in range(100):
        if (page.text_content(selector) or "").strip() == text:
            return
        page.wait_for_timeout(200)
        page.reload()
    assert (page.text_content(selector) or "").strip() == text


def _focused(page: Page) -> str:
    return str(page.evaluate("() => document.activeElement.id || document.activeElement.className"))


def _sign_in_with_the_keyboard_alone(page: Page, password: str) -> None:
    """Skip link → the form's fields in order → Enter; the focus always where one expects it."""
    page.keyboard.press("Tab")
    assert _focused(page) == "skip" and page.is_visible(".skip")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert _focused(page) == "signin-email"
    page.keyboard.type(EMAIL)
    page.keyboard.press("Tab")
    assert _focused(page) == "signin-password"
    page.keyboard.type(password)
    with page.expect_navigation(timeout=WAIT_MS):
        page.keyboard.press("Enter")


def _mailed_link(message: EmailMessage, prefix: str) -> str:
    """The link in the mail that starts with `prefix` (this server's page: MOSAIC_PUBLIC_URL)."""
    body = message.get_body(("plain",))
    assert body is not None
    links = [word for word in body.get_content().split() if word.startswith(prefix)]
    assert len(links) == 1, body.get_content()
    return links[0]


def _curl(line: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", line + " -s -w '\\n%{http_code}'"], capture_output=True, text=True,
                          timeout=60, check=False)


def _stripe_page(fake: FakeStripe, server_url: str, webhook: str) -> object:
    """Stand in for Stripe's hosted Checkout page: the customer pays, Stripe sends its signed events to
    the webhook, and its page sends the browser back to the success URL. Intercepted in the browser,
    so the request never leaves it."""

    def handle(route: Route, request: Request) -> None:
        session_id = request.url.rsplit("/", 1)[-1]
        for delivery in fake.complete_checkout(session_id):
            answer = httpx.post(webhook, content=delivery.payload,
                                headers={"Stripe-Signature": delivery.signature, "Content-Type": "application/json"})
            assert answer.status_code == 200 and answer.json()["outcome"] == "applied", answer.text
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>Stripe</title>paid")

    return handle


def test_a_new_customer_signs_up_subscribes_uses_a_key_and_the_playground_and_revokes_the_key(
    browser: Browser, tmp_path: Path
) -> None:
    port = free_port()
    with serving_stripe() as fake, serving_smtp() as mailbox:
        env = server_env(
            f"sqlite:///{tmp_path / 'mosaic.db'}",
            **{**billing_env(fake), **mailbox.env, "MOSAIC_PUBLIC_URL": f"http://127.0.0.1:{port}"},
            MOSAIC_PLANS_FILE=str(FIXTURES / "plans-stripe.toml"),
        )
        server = start_server(env, tmp_path / "server.log", port)
        try:
            _journey(browser, server.url, fake, mailbox, tmp_path)
        finally:
            server.stop()


def _journey(browser: Browser, base: str, fake: FakeStripe, mailbox: Mailbox, tmp_path: Path) -> None:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(page, base)
    page.route(CHECKOUT_PAGES, _stripe_page(fake, base, f"{base}/api/billing/webhook"))

    # sign up
    page.goto(base + "/signup")
    check(page, "signup")
    page.fill("#signup-email", EMAIL)
    page.fill("#signup-password", PASSWORD)
    follow(page, "#sign-up-form button[type=submit]")
    page.wait_for_url(base + "/dashboard?welcome=1")
    assert (page.text_content("#balance") or "") == "5" and page.is_visible("#unverified")
    check(page, "dashboard-free")

    # verify the address with the mailed link (the mail caught by the SMTP server on loopback)
    page.goto(_mailed_link(mailbox.wait_for(EMAIL), f"{base}/verify?token="))
    check(page, "verify")
    follow(page, "#confirm-verify")
    assert EMAIL in (page.text_content("#verified") or "")
    check(page, "verified")

    # pricing → Checkout (the fake Stripe; its signed webhooks) → the success page → the dashboard
    follow(page, "nav >> text=Pricing")
    check(page, "pricing")
    follow(page, "#subscribe-commercial")
    page.wait_for_url(re.compile(r"https://checkout\.stripe\.test/c/pay/cs_"), timeout=WAIT_MS)
    page.goto(f"{base}/billing/success?session_id={fake.sessions[-1]['id']}")
    check(page, "billing-success")
    follow(page, "#to-dashboard")
    _wait_for_text(page, "#balance", "800")
    assert page.text_content("#plan") == "commercial" and page.text_content("#sub-status") == "active"
    assert page.locator("svg.chart polyline").count() >= 1
    page.click("#usage-details summary")
    assert page.locator("#usage-table tbody tr").count() >= 28
    check(page, "dashboard")

    # a key: shown once, then only its prefix
    follow(page, "nav >> text=API keys")
    page.fill("#key-name", "Shop website")
    follow(page, "#key-form button[type=submit]")
    key = page.input_value("#new-key-value")
    assert re.fullmatch(r"us_live_[A-Za-z0-9]{46}", key)
    check(page, "keys-new")
    page.reload()
    assert key not in page.content() and key[:12] in page.content()
    check(page, "keys")

    # the spec's curl example from the docs page, with that key
    follow(page, "nav >> text=API docs")
    check(page, "docs")
    line = page.input_value("#get-api-credits-balance-curl-1").replace("us_live_YOUR_KEY", key)
    assert line.startswith(f"curl {base}/api/credits/balance ")
    done = _curl(line)
    body, status = done.stdout.rsplit("\n", 1)
    assert status == "200" and json.loads(body)["balance"] == 800, done

    # the playground: a color-by-number page, shown, then downloaded
    follow(page, "nav >> text=Playground")
    check(page, "playground")
    page.set_input_files("#pg-image", ROOT / "tests" / "fixtures" / "images" / "chelsea.png")
    page.select_option("#pg-mode", "cbn")
    assert page.is_visible("#pg-detail") and not page.is_visible("#pg-density")  # only cbn's fields
    page.fill("#pg-colors", "8")
    follow(page, "#generate")
    page.wait_for_selector("#result", timeout=WAIT_MS)
    assert page.text_content("#charged") == "1" and page.text_content("#remaining") == "799"
    assert page.locator(".previews img").count() == 2
    check(page, "playground-result")
    with page.expect_download(timeout=WAIT_MS) as download:
        page.click("#download")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "chelsea-cbn.zip" and "mystery.png" in zipfile.ZipFile(saved).namelist()

    # the statement shows the charge; its CSV has the same rows
    follow(page, "nav >> text=Statement")
    page.locator("#statement tr", has_text="capture").wait_for(timeout=WAIT_MS)
    check(page, "statement")
    shown = [[cell.strip() for cell in row.locator("td").all_text_contents()]
             for row in page.locator("#statement tbody tr").all()]
    with page.expect_download(timeout=WAIT_MS) as download:
        page.click("#csv-link")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(r["line"], r["kind"], r["balance_after"]) for r in rows] == [(s[0], s[2], s[5]) for s in shown]
    assert ("capture" in {r["kind"] for r in rows}) and rows[-1]["balance_after"] == "799"

    # revoke the key (after a confirmation): the same curl line is refused
    follow(page, "nav >> text=API keys")
    follow(page, "#keys >> text=Revoke")
    check(page, "revoke")
    follow(page, "#confirm-revoke")
    page.wait_for_url(base + "/keys?revoked=1")
    refused = _curl(line)
    assert refused.stdout.rsplit("\n", 1)[1] == "401", refused

    # forgot → reset, in another browser: this one's session is then signed out
    other = browser.new_context(viewport={"width": 1280, "height": 900})
    elsewhere = other.new_page()
    watch_elsewhere = Watch(elsewhere, base)
    elsewhere.goto(base + "/signin")
    check(elsewhere, "signin")
    follow(elsewhere, "text=Forgot your password?")
    check(elsewhere, "forgot")
    elsewhere.fill("#forgot-email", EMAIL)
    follow(elsewhere, "#forgot-form button[type=submit]")
    assert elsewhere.is_visible("#forgot-sent")
    check(elsewhere, "forgot-sent")
    elsewhere.goto(_mailed_link(mailbox.wait_for(EMAIL, count=2), f"{base}/reset?token="))
    check(elsewhere, "reset")
    elsewhere.fill("#reset-password", NEW_PASSWORD)
    follow(elsewhere, "#reset-form button[type=submit]")
    assert elsewhere.url == base + "/signin?reset=1"
    _sign_in_with_the_keyboard_alone(elsewhere, NEW_PASSWORD)
    assert elsewhere.url == base + "/dashboard" and elsewhere.text_content("#balance") == "799"

    page.reload()
    assert page.url == base + "/signin?next=/keys"  # the old session is signed out
    page.fill("#signin-email", EMAIL)
    page.fill("#signin-password", PASSWORD)
    follow(page, "#sign-in-form button[type=submit]")
    assert page.is_visible("#error") and "invalid_credentials" in (page.text_content("#error") or "")
    # the refusal's status is the API's (401), which Chromium logs; the one error this journey expects
    assert watch.errors == ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]
    watch.errors.clear()
    check(page, "signin-refused")

    follow(elsewhere, "nav >> text=Sign out")
    assert elsewhere.url == base + "/signin?signed_out=1"
    assert not any(c["name"] == "mosaic_session" for c in other.cookies())

    assert watch.errors == [] and watch_elsewhere.errors == []
    assert watch.foreign() == [fake.sessions[-1]["url"]]  # Stripe's page, answered inside the browser
    assert watch_elsewhere.foreign() == []
    other.close()
    context.close()
