"""The pages of the mailed links through a real SMTP server on loopback: verify, forgot, reset, and
the sessions a reset ends (in this browser and in any other)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from mosaic.bootstrap import Services
from tests.fakes.smtp_server import Mailbox, link_token, serving
from tests.http.conftest import AppClient
from tests.http.web.pages import csrf_of, post_form, sign_in, sign_up

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with serving() as box:
        yield box


@pytest.fixture
def mailed(make_services: Callable[..., Services], mailbox: Mailbox) -> Services:
    return make_services(**mailbox.env)


def test_the_mailed_link_verifies_the_address_after_a_click(
    mailed: Services, mailbox: Mailbox, make_client: Callable[..., AppClient]
) -> None:
    client = make_client(mailed)
    sign_up(client, "ada@example.com")
    assert 'id="unverified"' in client.get("/dashboard").text
    token = link_token(mailbox.wait_for("ada@example.com"), "/verify")
    form = client.get(f"/verify?token={token}")
    assert form.status_code == 200 and 'id="confirm-verify"' in form.text  # a GET verifies nothing
    assert 'id="unverified"' in client.get("/dashboard").text
    done = client.post("/verify", data={"csrf": csrf_of(form.text), "token": token})
    assert done.status_code == 200 and 'id="verified"' in done.text and "ada@example.com" in done.text
    assert 'id="unverified"' not in client.get("/dashboard").text
    again = client.post("/verify", data={"csrf": csrf_of(form.text), "token": token})
    assert again.status_code == 400 and 'role="alert"' in again.text


def test_a_reset_from_the_forgot_page_ends_every_session_and_the_new_password_works(
    mailed: Services, mailbox: Mailbox, make_client: Callable[..., AppClient]
) -> None:
    browser, other_browser = make_client(mailed), make_client(mailed)
    sign_up(browser, "bob@example.com")
    assert sign_in(other_browser, "bob@example.com").status_code == 303
    asked = post_form(browser, "/forgot", {"email": "bob@example.com"})
    assert asked.status_code == 202 and 'id="forgot-sent"' in asked.text
    nobody = post_form(browser, "/forgot", {"email": "nobody@example.com"})
    assert nobody.status_code == 202 and nobody.text.replace("nobody", "bob") == asked.text.replace(
        csrf_of(asked.text), csrf_of(nobody.text)
    )
    token = link_token(mailbox.wait_for("bob@example.com", count=2), "/reset")
    form = browser.get(f"/reset?token={token}")
    done = browser.post("/reset", data={"csrf": csrf_of(form.text), "token": token, "password": NEW_PASSWORD})
    assert done.status_code == 303 and done.headers["location"] == "/signin?reset=1"
    for signed_out in (browser, other_browser):
        assert signed_out.get("/dashboard").status_code == 303
    assert sign_in(browser, "bob@example.com").status_code == 401
    assert sign_in(browser, "bob@example.com", NEW_PASSWORD).status_code == 303
    assert browser.get("/dashboard").status_code == 200
    reused = browser.post("/reset", data={"csrf": csrf_of(form.text), "token": token, "password": "another one!!"})
    assert reused.status_code == 400 and 'role="alert"' in reused.text
