"""The account owner's web page in a real browser (Debian's Chromium, driven by Playwright) against
`mosaic serve`: sign in, balance, a key shown once, a page made from a photo, the statement, revoking."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.live import PASSWORD, ROOT, cli, server_env, serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [  # as root, with no network beyond loopback and nothing to update or sync
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "scripts/services installs Debian's chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _sign_in(page: Page, base_url: str, email: str, password: str) -> None:
    page.goto(base_url + "/")
    page.fill("#sign-in-form input[name=email]", email)
    page.fill("#sign-in-form input[name=password]", password)
    page.click("#sign-in-form button[type=submit]")


def test_an_owner_signs_in_makes_a_key_and_a_page_and_sees_both_on_the_statement(
    browser: Browser, tmp_path: Path
) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'mosaic.db'}")
    cli(env, "users", "create", "owner@example.com", "--plan", "commercial", stdin=PASSWORD + "\n")
    with serving(env, tmp_path / "server.log") as server:
        page = browser.new_page(accept_downloads=True)
        page_errors: list[str] = []
        page.on("pageerror", lambda error: page_errors.append(str(error)))

        _sign_in(page, server.url, "owner@example.com", "not the password")
        page.wait_for_selector("#notice.error", timeout=WAIT_MS)
        assert "invalid_credentials" in (page.text_content("#notice") or "")

        _sign_in(page, server.url, "owner@example.com", PASSWORD)
        page.locator("#balance", has_text="800").wait_for(timeout=WAIT_MS)
        assert "commercial" in (page.text_content("#plan") or "")

        page.fill("#key-form input[name=name]", "<b>Shop</b> bot")
        page.click("#key-form button[type=submit]")
        page.wait_for_selector("#new-key:not([hidden])", timeout=WAIT_MS)
        key = page.text_content("#new-key-value") or ""
        balance = httpx.get(f"{server.url}/api/credits/balance", headers={"Authorization": f"Bearer {key}"})
        assert balance.status_code == 200 and balance.json()["balance"] == 800
        row = page.locator("#keys tr").first
        assert row.locator("td").first.text_content() == "<b>Shop</b> bot"  # text, never markup

        page.set_input_files("#generate-form input[name=image]", ROOT / "tests" / "fixtures" / "images" / "chelsea.png")
        page.select_option("#generate-form select[name=mode]", "cbn")
        page.select_option("#generate-form select[name=output]", "mystery")
        page.click("#generate-form button[type=submit]")
        page.wait_for_selector("#generate-result:not([hidden])", timeout=WAIT_MS)
        with page.expect_download(timeout=WAIT_MS) as download:
            page.click("#generate-link")
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.name == "chelsea-cbn-mystery.png" and saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        page.locator("#balance", has_text="799").wait_for(timeout=WAIT_MS)
        page.locator("#statement tr", has_text="capture").wait_for(timeout=WAIT_MS)
        kinds = [r.locator("td").nth(2).text_content() for r in page.locator("#statement tr").all()]
        assert kinds == ["monthly_grant", "reserve", "capture"]

        page.on("dialog", lambda dialog: dialog.accept())
        row.locator("button", has_text="Revoke").click()
        page.locator("#keys tr td", has_text="revoked").wait_for(timeout=WAIT_MS)
        refused = httpx.get(f"{server.url}/api/credits/balance", headers={"Authorization": f"Bearer {key}"})
        assert refused.status_code == 401

        page.click("#sign-out")
        assert page.is_visible("#signed-out") and not page.is_visible("#signed-in")
        assert page_errors == []
        page.close()
