"""Account mail end to end: the service sends through a real SMTP server on loopback (aiosmtpd), and
the tests follow the mailed links' tokens through the HTTP routes.

Time is the ledger's injected clock (moved forward, never slept through).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mosaic.bootstrap import Services, build
from mosaic.domain.users import MAIL_TOKEN_TTL_S
from tests.conftest import both_backends, settings_for
from tests.fakes.smtp_server import Mailbox, link_token, serving
from tests.http.conftest import PASSWORD, AppClient, bearer, dump_database, event_count, memory_limits

NEW_PASSWORD = "a brand new passphrase"
FORGOT = "/api/auth/forgot"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Site:
    services: Services
    client: AppClient
    mailbox: Mailbox
    clock: Clock
    database_url: str

    def sign_up(self, email: str) -> str:
        """Register over HTTP; the verification token the mail brought."""
        response = self.client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
        assert response.status_code == 201, response.text
        return link_token(self.mailbox.wait_for(email), "/verify")

    def sign_in(self, email: str, password: str = PASSWORD) -> dict[str, str]:
        response = self.client.post("/api/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return bearer(response.json()["access_token"])

    def me(self, auth: dict[str, str]) -> Any:
        return self.client.get("/api/auth/me", headers=auth)

    def drain(self) -> None:
        """Wait until every mail job handed over has run (the outbox takes none after this)."""
        self.services.use_cases.mail.close()


def _site(
    database_url: str, make_client: Callable[..., AppClient], mailbox: Mailbox, **client_kwargs: Any
) -> Iterator[Site]:
    clock = Clock()
    services = build(settings_for(database_url, **mailbox.env), background=False, clock=clock)
    try:
        client = make_client(services, **client_kwargs)
        yield Site(services, client, mailbox, clock, database_url)
    finally:
        services.close()


@pytest.fixture
def site(database_url: str, make_client: Callable[..., AppClient]) -> Iterator[Site]:
    with serving() as mailbox:
        yield from _site(database_url, make_client, mailbox)


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


@both_backends()
def test_sign_up_verify_forget_and_reset_through_real_mail_and_the_old_session_ends(site: Site) -> None:
    email = "ada@example.com"
    verify_token = site.sign_up(email)
    auth = site.sign_in(email)
    assert site.me(auth).json()["email_verified"] is False

    verified = site.client.post("/api/auth/verify", json={"token": verify_token})
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"email": email, "email_verified": True}
    me = site.me(auth).json()
    assert me["email_verified"] is True and me["email"] == email and me["role"] == "user"

    forgot = site.client.post(FORGOT, json={"email": "Ada@Example.com"})
    assert forgot.status_code == 202, forgot.text
    reset_token = link_token(site.mailbox.wait_for(email, count=2), "/reset")
    assert site.me(auth).status_code == 200, "asking for a reset signs nobody out"

    reset = site.client.post("/api/auth/reset", json={"token": reset_token, "password": NEW_PASSWORD})
    assert reset.status_code == 200, reset.text
    assert reset.json() == {"email": email, "sessions_ended": True}
    old_session = site.me(auth)
    assert old_session.status_code == 401 and error_code(old_session) == "session_ended"
    refused = site.client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert refused.status_code == 401
    assert site.me(site.sign_in(email, NEW_PASSWORD)).status_code == 200


@both_backends()
def test_a_used_token_is_refused_with_400_token_used_and_changes_nothing(site: Site) -> None:
    email = "used@example.com"
    verify_token = site.sign_up(email)
    assert site.client.post("/api/auth/verify", json={"token": verify_token}).status_code == 200
    site.client.post(FORGOT, json={"email": email})
    reset_token = link_token(site.mailbox.wait_for(email, count=2), "/reset")
    body = {"token": reset_token, "password": NEW_PASSWORD}
    assert site.client.post("/api/auth/reset", json=body).status_code == 200
    events = event_count(site.database_url)
    again = site.client.post("/api/auth/verify", json={"token": verify_token})
    assert again.status_code == 400 and error_code(again) == "token_used", again.text
    reset_again = site.client.post("/api/auth/reset", json={**body, "password": "yet another passphrase"})
    assert reset_again.status_code == 400 and error_code(reset_again) == "token_used"
    assert "used" in reset_again.json()["error"]["message"]
    assert event_count(site.database_url) == events
    site.sign_in(email, NEW_PASSWORD)


def test_an_expired_reset_token_is_refused_with_400_token_expired_and_the_password_stays(site: Site) -> None:
    email = "late@example.com"
    site.sign_up(email)
    site.client.post(FORGOT, json={"email": email})
    reset_token = link_token(site.mailbox.wait_for(email, count=2), "/reset")
    site.clock.advance(MAIL_TOKEN_TTL_S)
    events = event_count(site.database_url)
    late = site.client.post("/api/auth/reset", json={"token": reset_token, "password": NEW_PASSWORD})
    assert late.status_code == 400 and error_code(late) == "token_expired", late.text
    assert "expired" in late.json()["error"]["message"]
    assert event_count(site.database_url) == events
    site.sign_in(email)


def test_a_verification_token_a_second_before_it_expires_still_works(site: Site) -> None:
    email = "just-in-time@example.com"
    token = site.sign_up(email)
    site.clock.advance(MAIL_TOKEN_TTL_S - 1)
    assert site.client.post("/api/auth/verify", json={"token": token}).status_code == 200


def test_a_token_that_was_never_mailed_or_is_for_the_other_page_is_refused_naming_the_problem(site: Site) -> None:
    verify_token = site.sign_up("mixed@example.com")
    unknown = site.client.post("/api/auth/verify", json={"token": "x" * 43})
    assert unknown.status_code == 400 and error_code(unknown) == "invalid_token"
    wrong_page = site.client.post("/api/auth/reset", json={"token": verify_token, "password": NEW_PASSWORD})
    assert wrong_page.status_code == 400 and error_code(wrong_page) == "invalid_token"
    malformed = site.client.post("/api/auth/verify", json={"token": "not a token!"})
    assert malformed.status_code == 400 and error_code(malformed) == "invalid_body"
    short = site.client.post("/api/auth/reset", json={"token": verify_token, "password": "short"})
    assert short.status_code == 400 and "password" in short.json()["error"]["message"]


def test_forgot_answers_an_unknown_address_exactly_as_a_known_one_and_mails_nobody(site: Site) -> None:
    site.sign_up("known@example.com")
    events = event_count(site.database_url)
    known = site.client.post(FORGOT, json={"email": "known@example.com"})
    unknown = site.client.post(FORGOT, json={"email": "nobody@example.com"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (202, known.json())
    assert set(known.headers) == set(unknown.headers)
    site.drain()
    assert len(site.mailbox.to("known@example.com")) == 2
    assert site.mailbox.to("nobody@example.com") == []
    assert event_count(site.database_url) == events + 1, "one reset token issued, for the known address"


def test_a_resend_mails_a_second_link_and_a_verified_address_gets_409(site: Site) -> None:
    email = "again@example.com"
    site.sign_up(email)
    auth = site.sign_in(email)
    resend = site.client.post("/api/auth/verify/resend", headers=auth)
    assert resend.status_code == 202, resend.text
    second = link_token(site.mailbox.wait_for(email, count=2), "/verify")
    assert site.client.post("/api/auth/verify", json={"token": second}).status_code == 200
    verified = site.client.post("/api/auth/verify/resend", headers=auth)
    assert verified.status_code == 409 and error_code(verified) == "already_verified"


def test_no_token_is_logged_or_stored_only_its_sha256(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    email = "secret@example.com"
    verify_token = site.sign_up(email)
    site.client.post("/api/auth/verify", json={"token": verify_token})
    site.client.post(FORGOT, json={"email": email})
    reset_token = link_token(site.mailbox.wait_for(email, count=2), "/reset")
    site.client.post("/api/auth/reset", json={"token": reset_token, "password": NEW_PASSWORD})
    stored = repr(dump_database(site.database_url))
    for token in (verify_token, reset_token):
        assert token not in caplog.text
        assert token not in stored
        assert hashlib.sha256(token.encode()).hexdigest() in stored


def test_forgot_and_verify_are_throttled(database_url: str, make_client: Callable[..., AppClient]) -> None:
    with serving() as mailbox:
        for site in _site(database_url, make_client, mailbox):
            limited = make_client(site.services, rate_limits=memory_limits(site.services, login="3/minute"))
            answers = [limited.post(FORGOT, json={"email": "flood@example.com"}).status_code for _ in range(4)]
            assert answers == [202, 202, 202, 429]
            tries = [limited.post("/api/auth/verify", json={"token": "y" * 43}).status_code for _ in range(4)]
            assert tries == [400, 400, 400, 429]


def test_without_smtp_sign_up_works_unverified_and_forgot_answers_503(
    services: Services, make_client: Callable[..., AppClient]
) -> None:
    client = make_client(services)
    email = "offline@example.com"
    assert client.post("/api/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
    login = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    auth = bearer(login.json()["access_token"])
    assert client.get("/api/auth/me", headers=auth).json()["email_verified"] is False
    forgot = client.post(FORGOT, json={"email": email})
    assert forgot.status_code == 503 and error_code(forgot) == "email_unavailable"
    resend = client.post("/api/auth/verify/resend", headers=auth)
    assert resend.status_code == 503 and error_code(resend) == "email_unavailable"


def test_a_session_ended_through_another_server_is_refused_there_too(
    site: Site, make_client: Callable[..., AppClient]
) -> None:
    """The other server learns of the reset from the views, once its short cache entry runs out; a token
    signed in after the reset works there at once, though its cache still holds the old version."""
    email = "two-servers@example.com"
    site.sign_up(email)
    auth = site.sign_in(email)
    other = make_client(site.services)
    assert other.get("/api/auth/me", headers=auth).status_code == 200  # cached there now
    site.client.post(FORGOT, json={"email": email})
    token = link_token(site.mailbox.wait_for(email, count=2), "/reset")
    assert site.client.post("/api/auth/reset", json={"token": token, "password": NEW_PASSWORD}).status_code == 200
    fresh = site.sign_in(email, NEW_PASSWORD)
    assert other.get("/api/auth/me", headers=fresh).status_code == 200, "newer than its cached version: valid"
    sessions = other.app.state.http.auth.sessions
    sessions.clock = lambda: float("inf")  # the entry has run out (no sleeping)
    refused = other.get("/api/auth/me", headers=auth)
    assert refused.status_code == 401 and error_code(refused) == "session_ended"


@both_backends()
def test_the_views_rebuilt_from_the_log_are_the_same_after_verifying_and_resetting(site: Site) -> None:
    email = "rebuild@example.com"
    site.client.post("/api/auth/verify", json={"token": site.sign_up(email)})
    site.client.post(FORGOT, json={"email": email})
    token = link_token(site.mailbox.wait_for(email, count=2), "/reset")
    site.client.post("/api/auth/reset", json={"token": token, "password": NEW_PASSWORD})
    site.drain()
    views = site.services.views
    before = views.dump()
    assert len(before["mail_tokens"]) == 2
    site.services.runner.rebuild()
    assert views.dump() == before
